"""`evaluate`: run an agent on an environment and write per-episode JSONL plus a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgym.agents.base import Agent
from agentgym.eval.metrics import EvalSummary, summarize
from agentgym.rollout import acollect
from agentgym.trajectory import TrajectoryStore, load_trajectories

if TYPE_CHECKING:
    from agentgym.distributed import RayRolloutPool

TRAJECTORIES = "trajectories.jsonl"
SUMMARY = "summary.json"


async def evaluate(
    env_id: str,
    agent: Agent | RayRolloutPool,
    *,
    episodes: int = 10,
    k: int = 1,
    concurrency: int = 8,
    out_dir: str | Path | None = None,
    split: str | None = None,
    task_ids: list[str] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
    seed: int = 0,
) -> EvalSummary:
    """Evaluate `agent` on `episodes` tasks of `env_id`, `k` samples each.

    With `out_dir`, trajectories are appended to `out_dir/trajectories.jsonl` as they finish and episodes
    already there are not rerun; `out_dir/summary.json` is written at the end. With a `RayRolloutPool` as
    `agent` (`agentgym.distributed`), its Ray workers play the episodes; the files are the same.
    """
    await agent.check()
    store = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        store = TrajectoryStore(out / TRAJECTORIES)
    try:
        trajectories = await acollect(
            env_id, agent, task_ids, num_tasks=None if task_ids else episodes, split=split, group_size=k,
            concurrency=concurrency, store=store, progress=progress, seed=seed, env_kwargs=env_kwargs,
        )
    finally:
        if store is not None:
            store.close()
    summary = summarize(trajectories, k=k, env_id=env_id, agent=agent.name)
    if out_dir is not None:
        errored = [t for t in trajectories if not t.finished]
        if errored:
            with open(Path(out_dir) / "errors.jsonl", "a", encoding="utf-8") as f:
                for t in errored:
                    f.write(t.to_json() + "\n")
        (Path(out_dir) / SUMMARY).write_text(json.dumps(summary.to_dict(), indent=2))
    return summary


def summary_from_dir(out_dir: str | Path, k: int = 1) -> EvalSummary:
    """Recompute the summary of a finished (or partial) eval folder."""
    return summarize(load_trajectories(Path(out_dir) / TRAJECTORIES), k=k)
