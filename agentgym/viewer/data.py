"""Reading run folders into the compact data the HTML report embeds.

A run folder is either an eval run (`agentgym eval --out DIR`: `trajectories.jsonl`, `summary.json`, and
`errors.jsonl` for episodes that errored) or a training run (`output_dir` of a trainer: `metrics.jsonl` with one
line per logged step, `episodes/step-NNNNNN.jsonl` with the episodes sampled at that step, TensorBoard files
under `tensorboard/`, read when `metrics.jsonl` is missing). A folder may hold both. Lines of a JSONL file that do
not decode, or decode to something that is not a trajectory, are skipped and counted; the page shows the count.

The report keeps two things per episode: a summary row for the list (numbers and a few string-table indices)
and the transcript for the episode view (JSON, parsed only when the episode is opened). Token id arrays are
dropped (log-probs are summarized per turn), and long opening-message texts repeated across episodes (system
prompts) are stored once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.trajectory import Trajectory

TRAJECTORIES = "trajectories.jsonl"
SUMMARY = "summary.json"
ERRORS = "errors.jsonl"
METRICS = "metrics.jsonl"
EPISODES_DIR = "episodes"
_STEP_FILE = re.compile(r"step-(\d+)\.jsonl$")
#: opening-message texts at least this long are interned (stored once, referenced by index)
INTERN_MIN = 64
#: a tool result that reports a failure: an error or exception line, a traceback, a timeout, a killed sandbox
_ERROR_TEXT = re.compile(r"^\s*Traceback\b|^\w*(?:Error|Exception)(?::|$)|\btimed out\b|^\[killed by ", re.M)


class RunNotFoundError(FileNotFoundError):
    """A path given to the viewer holds no run (no trajectories, no metrics, no sampled episodes)."""


@dataclass
class RunData:
    """One run folder as the report shows it."""

    name: str
    path: str
    kind: str  # "eval" | "train" | "eval+train"
    summary: dict[str, Any] | None = None
    #: logged steps and the metric series aligned with them (None where a step did not log the key)
    steps: list[int] = field(default_factory=list)
    series: dict[str, list[float | None]] = field(default_factory=dict)
    episodes: list[tuple[Trajectory, int | None]] = field(default_factory=list)
    skipped_lines: int = 0
    skipped_files: list[str] = field(default_factory=list)


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSONL file and the number of non-empty lines that are not one (torn, malformed)."""
    rows: list[dict[str, Any]] = []
    bad = 0
    with open(path, "rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                bad += 1
                continue
            if isinstance(value, dict):
                rows.append(value)
            else:
                bad += 1
    return rows, bad


def read_trajectories(path: Path) -> tuple[list[Trajectory], int]:
    """The trajectories of a JSONL file and the count of lines skipped (not JSON, or not a trajectory)."""
    rows, bad = read_jsonl(path)
    out: list[Trajectory] = []
    for row in rows:
        try:
            out.append(Trajectory.from_dict(row))
        except (TypeError, ValueError, AttributeError, KeyError):
            bad += 1
    return out, bad


def _metrics(path: Path) -> tuple[list[int], dict[str, list[float | None]], int]:
    """Steps and series from `metrics.jsonl`; a step logged twice (a resumed run) keeps its last line."""
    rows, bad = read_jsonl(path)
    by_step: dict[int, dict[str, float]] = {}
    for row in rows:
        step = row.get("step")
        if not isinstance(step, (int, float)) or isinstance(step, bool):
            bad += 1
            continue
        by_step[int(step)] = {k: float(v) for k, v in row.items()
                              if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
                              and math.isfinite(v)}
    steps = sorted(by_step)
    keys = sorted({k for m in by_step.values() for k in m})
    series = {k: [by_step[s].get(k) for s in steps] for k in keys}
    return steps, series, bad


def _tensorboard_metrics(log_dir: Path) -> tuple[list[int], dict[str, list[float | None]]]:
    """Scalars from TensorBoard event files (runs logged before `metrics.jsonl` existed); tags map back to the
    trainer's keys (`train/reward` -> `reward`, `eval/success` -> `eval_success`, `time/rollout` ->
    `rollout_seconds`). Empty when the tensorboard package is not installed."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return [], {}
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    values: dict[str, dict[int, float]] = {}
    for t in acc.Tags().get("scalars", []):
        group, _, name = t.partition("/")
        key = {"train": name, "eval": f"eval_{name}", "time": f"{name}_seconds"}.get(group, t)
        values[key] = {int(e.step): float(e.value) for e in acc.Scalars(t)}
    steps = sorted({s for v in values.values() for s in v})
    return steps, {k: [v.get(s) for s in steps] for k, v in sorted(values.items())}


def load_run(path: str | Path, name: str | None = None) -> RunData:
    """Read a run folder (or a trajectories JSONL file itself)."""
    p = Path(path)
    if p.is_file():
        trajs, bad = read_trajectories(p)
        return RunData(name or p.parent.name or p.stem, str(p), "eval", episodes=[(t, None) for t in trajs],
                       skipped_lines=bad)
    if not p.is_dir():
        raise RunNotFoundError(f"{p}: no such run folder")
    run = RunData(name or p.resolve().name, str(p), "eval")
    found = []
    if (p / TRAJECTORIES).is_file():
        trajs, bad = read_trajectories(p / TRAJECTORIES)
        run.episodes += [(t, None) for t in trajs]
        run.skipped_lines += bad
        found.append("eval")
    if (p / ERRORS).is_file():  # episodes that errored (eval keeps them out of trajectories.jsonl)
        trajs, bad = read_trajectories(p / ERRORS)
        stored = {t.episode_id for t, _ in run.episodes}
        latest = {t.episode_id: t for t in trajs if t.episode_id not in stored}  # a rerun's last attempt
        run.episodes += [(t, None) for t in latest.values()]
        run.skipped_lines += bad
        if "eval" not in found:
            found.append("eval")
    if (p / SUMMARY).is_file():
        try:
            summary = json.loads((p / SUMMARY).read_text(encoding="utf-8"))
            run.summary = summary if isinstance(summary, dict) else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            run.skipped_files.append(SUMMARY)
    if (p / METRICS).is_file():
        run.steps, run.series, bad = _metrics(p / METRICS)
        run.skipped_lines += bad
        found.append("train")
    elif (p / "tensorboard").is_dir():
        run.steps, run.series = _tensorboard_metrics(p / "tensorboard")
        if run.steps:
            found.append("train")
    if (p / EPISODES_DIR).is_dir():
        for f in sorted((p / EPISODES_DIR).glob("step-*.jsonl")):
            m = _STEP_FILE.search(f.name)
            if m is None:
                continue
            trajs, bad = read_trajectories(f)
            run.episodes += [(t, int(m.group(1))) for t in trajs]
            run.skipped_lines += bad
        if "train" not in found:
            found.append("train")
    if not found:
        raise RunNotFoundError(f"{p}: not a run folder (no {TRAJECTORIES}, {METRICS} or {EPISODES_DIR}/)")
    run.kind = "+".join(dict.fromkeys(found))
    return run


# ------------------------------------------------------------------------------------------ compact episode


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def count_errors(t: Trajectory) -> int:
    """Errors in an episode: the loop's error, parse errors, and tool results that report an error."""
    n = int(t.error is not None) + sum(len(turn.parse_errors) for turn in t.turns)
    for turn in t.turns:
        for m in turn.observation:
            if isinstance(m, dict) and _ERROR_TEXT.search(_text_of(m.get("content"))):
                n += 1
    return n


def _logprob_stats(logprobs: list[float] | None) -> list[float] | None:
    vals = [float(x) for x in logprobs or [] if isinstance(x, (int, float)) and math.isfinite(x)]
    if not vals:
        return None
    return [len(vals), round(sum(vals) / len(vals), 4), round(min(vals), 4)]


class Interner:
    """A table of long strings stored once in the report."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._index: dict[str, int] = {}

    def ref(self, s: str) -> int:
        i = self._index.get(s)
        if i is None:
            i = self._index[s] = len(self.strings)
            self.strings.append(s)
        return i


def _opening(messages: list[dict[str, Any]], interner: Interner) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), str) and len(m["content"]) >= INTERN_MIN:
            m = {**m, "content": {"$s": interner.ref(m["content"])}}
        out.append(m)
    return out


_INFO_DROP = {"tool_calls", "parse_errors", "reward_components", "success", "answer", "search_tree", "graph",
              "task_id", "turn"}


def episode_record(t: Trajectory, step: int | None, interner: Interner) -> dict[str, Any]:
    """The transcript of one episode as the episode view reads it (token ids dropped)."""
    turns = []
    for turn in t.turns:
        turns.append({
            "a": turn.assistant, "o": turn.observation, "r": turn.reward, "pt": turn.prompt_tokens,
            "ct": turn.completion_tokens, "lp": _logprob_stats(turn.logprobs), "fr": turn.finish_reason,
            "tc": turn.tool_calls, "pe": turn.parse_errors, "as": round(turn.agent_seconds, 4),
            "es": round(turn.env_seconds, 4), "cr": turn.context_reset, "cost": turn.cost,
        })
    info = {k: v for k, v in t.info.items() if k not in _INFO_DROP}
    return {
        "id": t.episode_id, "env": t.env_id, "task": t.task_id, "agent": t.agent_id, "sample": t.sample_index,
        "step": step, "success": t.success, "reward": t.reward, "terminated": t.terminated,
        "truncated": t.truncated, "truncation_reason": t.truncation_reason, "error": t.error,
        "answer": t.answer, "components": t.reward_components,
        "gold": t.task.gold_answers if t.task is not None else None,
        "format": t.format.to_dict() if t.format is not None else None,
        "seconds": t.seconds, "started_at": t.started_at, "messages": _opening(t.messages, interner),
        "turns": turns, "search_tree": t.info.get("search_tree"), "graph": t.info.get("graph"), "info": info,
    }


def episode_row(run_index: int, t: Trajectory, step: int | None, envs: Interner, tools: Interner,
                agents: Interner) -> list[Any]:
    """The list row: [run, env, task, sample, success, reward, turns, tool calls, tokens, seconds, errors,
    step, tool indices, agent, finished]."""
    names = sorted({name for turn in t.turns for name in turn.tool_calls})
    return [run_index, envs.ref(t.env_id), t.task_id, t.sample_index, int(bool(t.success)), round(t.reward, 6),
            t.num_turns, t.num_tool_calls, t.prompt_tokens + t.completion_tokens, round(t.seconds, 3),
            count_errors(t), step, [tools.ref(n) for n in names], agents.ref(t.agent_id), int(t.finished)]


ROW_COLUMNS = ["run", "env", "task", "sample", "success", "reward", "turns", "tool_calls", "tokens", "seconds",
               "errors", "step", "tools", "agent", "finished"]


def iter_episodes(runs: list[RunData]) -> Iterator[tuple[int, Trajectory, int | None]]:
    for i, run in enumerate(runs):
        for t, step in run.episodes:
            yield i, t, step
