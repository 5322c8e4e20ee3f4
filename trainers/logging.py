"""Metric sinks for the trainers: console (rich), TensorBoard and Weights & Biases, behind one interface.

A trainer hands each step's metrics (a flat dict of numbers) to a `MetricLogger`, which forwards them to
its sinks. Sinks are chosen by name in `RLConfig.report_to`; `make_logger` builds them, importing
TensorBoard and wandb only when asked for (a missing package is a clear error at trainer construction,
before any rollout). Any object with `log(metrics, step)` and `close()` can be added as a sink.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

# console columns: (metric key, label, format); missing keys are left out of the line
CONSOLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("reward", "reward", "{:.3f}"),
    ("success", "success", "{:.1%}"),
    ("eval_success", "eval", "{:.1%}"),
    ("pg_loss", "loss", "{:+.4f}"),
    ("kl", "kl", "{:.4f}"),
    ("approx_kl", "kl_old", "{:+.1e}"),
    ("entropy", "ent", "{:.3f}"),
    ("clipfrac", "clip", "{:.3f}"),
    ("vf_loss", "vf", "{:.4f}"),
    ("grad_norm", "gnorm", "{:.3f}"),
    ("response_length", "len", "{:.1f}"),
    ("tool_calls", "tools", "{:.2f}"),
    ("tokens_per_second", "tok/s", "{:.0f}"),
)


class MetricSink(Protocol):
    """Anything that takes a step's metrics."""

    def log(self, metrics: Mapping[str, Any], step: int) -> None: ...

    def close(self) -> None: ...


def scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric entries of `metrics` (bools as 0/1), as floats."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, (int, float)) and math.isfinite(v):
            out[k] = float(v)
    return out


def tag(key: str) -> str:
    """Grouped tag of a metric key: `eval_success` -> `eval/success`, `reward` -> `train/reward`."""
    if "/" in key:
        return key
    if key.startswith("eval_"):
        return "eval/" + key.removeprefix("eval_")
    if key.endswith("_seconds"):
        return "time/" + key.removesuffix("_seconds")
    return "train/" + key


class ConsoleSink:
    """One compact line per step through `rich` (plain text when the output is not a terminal)."""

    def __init__(self, total_steps: int | None = None, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False, soft_wrap=True)
        self.total = total_steps

    def format(self, metrics: Mapping[str, Any], step: int) -> str:
        width = len(str(self.total)) if self.total else 0
        head = f"[bold]step {step:>{width}}" + (f"/{self.total}" if self.total else "") + "[/bold]"
        parts = [head]
        for key, label, fmt in CONSOLE_COLUMNS:
            v = metrics.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                parts.append(f"{label} [cyan]{fmt.format(v)}[/cyan]")
        times = [(k, metrics.get(f"{k}_seconds")) for k in ("rollout", "train", "sync")]
        if any(isinstance(v, (int, float)) for _, v in times):
            parts.append(" ".join(f"{k} {v:.2f}s" for k, v in times if isinstance(v, (int, float))))
        return " │ ".join(parts)

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        self.console.print(self.format(metrics, step))

    def close(self) -> None:
        return None


class TensorBoardSink:
    """Scalars to TensorBoard event files in `log_dir` (tags grouped as train/, eval/, time/)."""

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:  # torch raises this when the tensorboard package is missing
            raise ImportError("report_to includes 'tensorboard' but the tensorboard package is not installed: "
                              "pip install tensorboard (or agentgym[train])") from e
        self.log_dir = str(log_dir)
        self.writer = SummaryWriter(log_dir=self.log_dir)

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        for k, v in scalars(metrics).items():
            if k != "step":
                self.writer.add_scalar(tag(k), v, global_step=step)
        self.writer.flush()  # a killed run keeps every step it logged

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """Weights & Biases run; `mode="offline"` writes the run under `dir` without any network."""

    def __init__(self, project: str, *, name: str | None = None, dir: str | Path | None = None,
                 mode: str | None = None, config: Mapping[str, Any] | None = None) -> None:
        try:
            import wandb
        except ImportError as e:
            raise ImportError("report_to includes 'wandb' but wandb is not installed: pip install wandb") from e
        if dir is not None:
            Path(dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=project, name=name, dir=str(dir) if dir is not None else None, mode=mode,
                              config=dict(config or {}))

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        self.run.log({tag(k): v for k, v in scalars(metrics).items() if k != "step"}, step=step)

    def close(self) -> None:
        self.run.finish()


class RunFilesSink:
    """The run's own record in `output_dir`, read by `agentgym view`: `metrics.jsonl` (one JSON line per logged
    step: `step` and the step's finite scalars) and `episodes/step-NNNNNN.jsonl` (the episodes sampled at that
    step, in the `TrajectoryStore` format of an eval's `trajectories.jsonl`). Both are flushed per step, so a
    killed run keeps every step it logged."""

    def __init__(self, output_dir: str | Path, episodes: bool = True) -> None:
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.episodes = episodes
        self._fh = open(self.dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        row = {k: v for k, v in scalars(metrics).items() if k != "step"}
        self._fh.write(json.dumps({"step": step, **row}) + "\n")
        self._fh.flush()

    def log_episodes(self, trajectories: Sequence[Any], step: int) -> None:
        if not self.episodes or not trajectories:
            return
        from agentgym.trajectory import TrajectoryStore

        path = self.dir / "episodes" / f"step-{step:06d}.jsonl"
        path.unlink(missing_ok=True)  # a resumed run that redoes a step replaces its episodes
        with TrajectoryStore(path) as store:
            store.extend(trajectories)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


class CallbackSink:
    """Calls `fn(metrics)` (the trainers' older `log=` argument)."""

    def __init__(self, fn: Callable[[dict[str, Any]], None]) -> None:
        self.fn = fn

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        self.fn(dict(metrics))

    def close(self) -> None:
        return None


class MetricLogger:
    """Fans each step's metrics out to its sinks; `close()` finishes them (TensorBoard files, W&B run)."""

    def __init__(self, sinks: Sequence[MetricSink] = ()) -> None:
        self.sinks = list(sinks)

    def add(self, sink: MetricSink) -> None:
        self.sinks.append(sink)

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        for s in self.sinks:
            s.log(metrics, step)

    def log_episodes(self, trajectories: Sequence[Any], step: int) -> None:
        """The episodes sampled at `step`, to the sinks that keep episodes (`RunFilesSink`)."""
        for s in self.sinks:
            fn = getattr(s, "log_episodes", None)
            if fn is not None:
                fn(trajectories, step)

    def close(self) -> None:
        for s in self.sinks:
            s.close()
        self.sinks = []


def make_logger(
    report_to: Sequence[str],
    output_dir: str | Path | None = None,
    *,
    run_name: str | None = None,
    config: Mapping[str, Any] | None = None,
    total_steps: int | None = None,
    wandb_project: str = "agentgym",
    wandb_mode: str | None = None,
) -> MetricLogger:
    """Sinks named in `report_to` ("console", "tensorboard", "wandb"); files go under `output_dir`.

    TensorBoard writes to `output_dir/tensorboard`, W&B to `output_dir/wandb`. With an `output_dir`, the run's
    own record (`RunFilesSink`: `metrics.jsonl`, `episodes/`) is always written there, for `agentgym view`.
    """
    sinks: list[MetricSink] = [RunFilesSink(output_dir)] if output_dir is not None else []
    for name in report_to:
        if name == "console":
            sinks.append(ConsoleSink(total_steps))
        elif name == "tensorboard":
            if output_dir is None:
                raise ValueError("output_dir must be set to report to tensorboard")
            sinks.append(TensorBoardSink(Path(output_dir) / "tensorboard"))
        elif name == "wandb":
            sinks.append(WandbSink(wandb_project, name=run_name, dir=output_dir, mode=wandb_mode, config=config))
        else:
            raise ValueError(f"report_to: unknown sink {name!r}")
    return MetricLogger(sinks)
