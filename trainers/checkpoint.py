"""Checkpoint files: atomic directory writes, finding the latest checkpoint, RNG states, model weights.

A checkpoint is a directory `checkpoint-000012/` written under a temporary name (`.checkpoint-000012.tmp-PID`)
and renamed into place only once every file in it is written and flushed. A process killed mid-save
(SIGKILL included) leaves at most a temporary directory, which `list_checkpoints` never returns, so the
last complete checkpoint is always intact. What the trainer puts inside is up to the trainer
(`RLTrainer.save_checkpoint`); this module knows about directories, RNG and weights only.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.json"
_NAME = re.compile(rf"^{PREFIX}(\d+)$")


def checkpoint_path(root: str | Path, step: int) -> Path:
    """Where the checkpoint of training step `step` lives under `root`."""
    return Path(root) / f"{PREFIX}{step:06d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first (temporary and half-written directories are skipped)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_dir() and (p / STATE_FILE).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint under `root`, or None."""
    ckpts = list_checkpoints(root)
    return ckpts[-1] if ckpts else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory itself, or the latest one under a run directory; an error if there is none."""
    p = Path(path)
    if (p / STATE_FILE).is_file():
        return p
    latest = latest_checkpoint(p)
    if latest is None:
        raise FileNotFoundError(f"no checkpoint in {p} (expected {PREFIX}NNNNNN/{STATE_FILE})")
    return latest


def _fsync_tree(path: Path) -> None:
    for dirpath, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces `target` in one rename, on error it is removed.

    The rename is atomic on POSIX file systems, so a reader (or a resumed run) sees either the old
    `target` or the complete new one, never a partial write.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):  # left by a run killed while saving
        shutil.rmtree(stale, ignore_errors=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        old = None
        if target.exists():  # re-saving the same step: move the old copy aside, swap, then delete it
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def prune_checkpoints(root: str | Path, keep_last: int | None) -> list[Path]:
    """Delete all but the newest `keep_last` complete checkpoints; returns the deleted paths."""
    if keep_last is None:
        return []
    ckpts = list_checkpoints(root)
    doomed = ckpts[: max(len(ckpts) - keep_last, 0)]
    for p in doomed:
        shutil.rmtree(p, ignore_errors=True)
    return doomed


# ---------------------------------------------------------------------- RNG


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and (when present) CUDA RNG states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_pickle(obj: Any, path: Path) -> None:
    torch.save(obj, path)


def load_pickle(path: Path) -> Any:
    """Load a file this module wrote (full unpickling: only load checkpoints you trust)."""
    return torch.load(path, map_location="cpu", weights_only=False)


# ---------------------------------------------------------------------- weights


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No "Writing model shards" progress bar in the middle of a training log."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def save_model(model: Any, path: Path, state_dict: dict[str, torch.Tensor] | None = None) -> None:
    """Weights in a form `from_pretrained` reads: full weights, or only the adapter of a `peft` model.
    `state_dict`: the weights to write instead of the model's own (the gathered weights of a sharded model)."""
    if hasattr(model, "save_pretrained"):
        with _quiet_transformers():
            model.save_pretrained(path, **({"state_dict": state_dict} if state_dict is not None else {}))
        return
    from safetensors.torch import save_model as save_module

    path.mkdir(parents=True, exist_ok=True)
    if state_dict is not None:
        from safetensors.torch import save_file

        unique: dict[int, str] = {}
        for k, v in state_dict.items():  # tied tensors once, as save_model does
            unique.setdefault(v.data_ptr(), k)
        save_file({k: state_dict[k].contiguous() for k in unique.values()}, str(path / "model.safetensors"))
        return
    save_module(model, str(path / "model.safetensors"))


def load_model_weights(model: Any, path: Path,
                       load: Callable[[Any, dict[str, torch.Tensor]], tuple[list[str], list[str]]] | None = None) -> None:
    """Load what `save_model` wrote into `model` in place (exact tensors; tied weights stay tied).
    `load(model, state) -> (missing, unexpected)` replaces `load_state_dict(strict=False)` (a sharded model
    loads the full tensors into its shards)."""
    from safetensors.torch import load_file

    if (path / "adapter_model.safetensors").is_file():
        from peft import set_peft_model_state_dict

        result = set_peft_model_state_dict(model, load_file(path / "adapter_model.safetensors"))
        unexpected = getattr(result, "unexpected_keys", [])
        if unexpected:
            raise ValueError(f"adapter checkpoint {path} does not fit the model: unexpected {unexpected[:3]}")
        return
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no weights (*.safetensors) in {path}")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(f))
    missing, unexpected = model.load_state_dict(state, strict=False) if load is None else load(model, state)
    if unexpected:
        raise ValueError(f"checkpoint {path} does not fit the model: unexpected keys {unexpected[:3]}")
    # keys save_pretrained leaves out are tied to a saved tensor (e.g. lm_head.weight = embed_tokens.weight)
    params = dict(model.named_parameters(remove_duplicate=False))
    saved = {_tensor_identity(params[k]) for k in state if k in params}
    untied = [k for k in missing if k in params and _tensor_identity(params[k]) not in saved]
    if untied:
        raise ValueError(f"checkpoint {path} lacks weights for {untied[:3]}")


def _tensor_identity(p: torch.Tensor) -> int:
    """What tied parameters share: their storage (a DTensor shard: the parameter object itself)."""
    return id(p) if hasattr(p, "to_local") else p.data_ptr()
