"""`agentgym train` for the supervised passes: a run file with `trainer: cpt` (continued pretraining on
text) or `trainer: sft` (chat SFT, loss on assistant tokens)::

    trainer: sft                  # or cpt
    model: smollm2                # a model folder, a .gguf file, or "smollm2"
    data: out/retail/sft.jsonl    # cpt: records with "text"; sft: records with "messages"
    epochs: 2
    learning_rate: 1.0e-5
    micro_batch_size: 4
    max_length: 2048
    output_dir: runs/retail-sft   # the trained model and tokenizer (save_pretrained) at the end

Everything is checked (keys, values, the data file, line by line) before the model is loaded.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.trainers.config import ConfigError, read_run_file
from agentgym.trainers.lm_data import chat_examples, read_chat_file, read_text_file, text_examples

__all__ = ["SUPERVISED_TRAINERS", "SupervisedRun", "load_supervised_run", "read_run_file", "run_supervised"]

SUPERVISED_TRAINERS = ("cpt", "sft")


@dataclass
class SupervisedRun:
    """A parsed `trainer: cpt | sft` run file (see the module docstring; every field is checked)."""

    trainer: str
    model: str
    data: str
    epochs: int = 1
    learning_rate: float = 1e-5
    micro_batch_size: int = 4
    batch_size: int | None = None  # rows per optimizer step (default: micro_batch_size)
    max_length: int = 2048
    output_dir: str | None = None
    steps: int | None = None  # stop after this many optimizer steps
    log_every: int = 10
    seed: int = 0
    pack: bool = True  # cpt: pack texts into rows of max_length
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    dtype: str = "float32"
    device: str | None = None  # default: cuda when available
    field: str | None = None  # the record field to read (default: text for cpt, messages for sft)
    resume: bool = False

    def __post_init__(self) -> None:
        if self.trainer not in SUPERVISED_TRAINERS:
            raise ConfigError("trainer", f"trainer must be one of {SUPERVISED_TRAINERS}, got {self.trainer!r}")
        for name in ("model", "data"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(name, f"the run file must set {name!r} (a string), got {getattr(self, name)!r}")
        for name in ("epochs", "micro_batch_size", "max_length", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (2 if name == "max_length" else 1):
                raise ConfigError(name, f"{name} must be a positive integer, got {value!r}")
        for name in ("batch_size", "steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(name, f"{name} must be a positive integer or null, got {value!r}")
        for name in ("learning_rate", "weight_decay", "max_grad_norm"):
            value = getattr(self, name)
            if value is None and name == "max_grad_norm":
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(name, f"{name} must be a non-negative number, got {value!r}")
        if self.learning_rate <= 0:
            raise ConfigError("learning_rate", f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ConfigError("dtype", f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}")
        if self.resume:
            raise ConfigError("resume", f"trainer: {self.trainer} runs in one go and does not resume")

    @property
    def record_field(self) -> str:
        return self.field or ("text" if self.trainer == "cpt" else "messages")


def load_supervised_run(source: str | Path | dict[str, Any], overrides: list[str] | tuple[str, ...] = ()
                        ) -> SupervisedRun | None:
    """The `SupervisedRun` of a run file whose trainer is cpt or sft (relative `data` paths are read from
    the run file's folder when they do not exist from the current one), or None for any other trainer."""
    from agentgym.trainers.registry import apply_overrides

    data = dict(source) if isinstance(source, dict) else read_run_file(source)
    data = apply_overrides(data, overrides)
    if data.get("trainer") not in SUPERVISED_TRAINERS:
        return None
    data.update(data.pop("config", None) or {})
    known = [f.name for f in dataclasses.fields(SupervisedRun)]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(str(key), f"unknown key {key!r} for trainer: {data['trainer']}{hint}")
    run = SupervisedRun(**data)
    if not isinstance(source, dict) and not Path(run.data).exists():
        beside = Path(source).parent / run.data
        if beside.exists():
            run.data = str(beside)
    return run


def _load_rows(run: SupervisedRun, tokenizer: Any) -> tuple[list[Any], int]:
    if run.trainer == "cpt":
        texts = read_text_file(run.data, run.record_field)
        return text_examples(tokenizer, texts, run.max_length, run.pack), len(texts)
    conversations = read_chat_file(run.data, run.record_field)
    return chat_examples(tokenizer, conversations, run.max_length), len(conversations)


def run_supervised(run: SupervisedRun, print_fn: Any = print) -> dict[str, Any]:
    """Train `run.model` on `run.data`, printing progress, and save it to `run.output_dir`; returns a
    summary (also written there as `train_summary.json`)."""
    import torch
    from agentgym.trainers.lm_train import mean_loss, train_lm

    from agentgym.models.loading import ModelNotFoundError, load_model, resolve_model

    # the data file is checked line by line before minutes of model loading
    (read_text_file if run.trainer == "cpt" else read_chat_file)(run.data, run.record_field)
    try:
        resolve_model(run.model)
    except ModelNotFoundError as e:
        raise ConfigError("model", str(e)) from None
    device = run.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(run.seed)
    t0 = time.perf_counter()
    model, tokenizer = load_model(run.model, dtype=run.dtype, device=device)
    rows, records = _load_rows(run, tokenizer)
    if not rows:
        raise ConfigError("data", f"{run.data}: no record has a token to train on within max_length={run.max_length}")
    tokens = sum(r.num_loss_tokens for r in rows)
    cut = sum(r.truncated for r in rows)
    print_fn(f"agentgym train: {run.trainer} on {run.data} with {run.model}; {records} records -> {len(rows)} rows, "
             f"{tokens} trained tokens ({cut} rows cut at max_length={run.max_length}); {run.epochs} epochs on "
             f"{device}" + (f"; saving to {run.output_dir}" if run.output_dir else ""), flush=True)

    def log(step: int, total: int, loss: float) -> None:
        print_fn(f"step {step}/{total} loss {loss:.4f} ({time.perf_counter() - t0:.0f}s)", flush=True)

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stats = train_lm(model, rows, pad_id=int(pad or 0), epochs=run.epochs, learning_rate=run.learning_rate,
                     micro_batch_size=run.micro_batch_size, batch_size=run.batch_size, max_steps=run.steps,
                     weight_decay=run.weight_decay, max_grad_norm=run.max_grad_norm, seed=run.seed,
                     log_every=run.log_every, on_log=log)
    summary = {"trainer": run.trainer, "model": run.model, "data": run.data, "records": records, "rows": len(rows),
               "tokens": tokens, "steps": stats.steps, "first_loss": stats.first_loss, "last_loss": stats.last_loss,
               "final_mean_loss": mean_loss(model, rows[:64], int(pad or 0), run.micro_batch_size),
               "seconds": round(time.perf_counter() - t0, 2), "config": dataclasses.asdict(run)}
    if run.output_dir:
        out = Path(run.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print_fn(f"saved {out}", flush=True)
    return summary
