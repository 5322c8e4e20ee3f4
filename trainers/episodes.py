"""Training rollouts: groups of episodes of each task, played by the rollout engine through the one episode
loop (`agentgym.episode`).

The engine is wrapped as a `TokenAgent`, so every turn records the exact ids the engine was prompted with
(`Turn.context_ids`: the whole prompt at the start of a context, the observation's template delta after
that) beside the ids it generated and their log-probs; `build_batch` concatenates those records.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from agentgym.trainers.engines.base import RolloutEngine

from agentgym.agents.token_agent import TokenAgent
from agentgym.episode import EnvFactory, PreparePrompt, run_episodes
from agentgym.models.generation import SamplingParams
from agentgym.trajectory import Trajectory


def engine_policy(engine: RolloutEngine, params: SamplingParams, max_length: int | None = None) -> TokenAgent:
    """The engine as the episode loop's policy: token-exact turns within the engine's context window and
    the trainer's `max_length`."""
    return TokenAgent(engine, engine.tokenizer, params, context_window=engine.context_window, max_length=max_length)


async def run_groups(
    make_env: EnvFactory,
    engine: RolloutEngine,
    task_ids: Sequence[str],
    group_size: int,
    params: SamplingParams,
    *,
    concurrency: int = 64,
    max_length: int | None = None,
    env_id: str = "",
    envs: list[Any] | None = None,
    prepare: PreparePrompt | None = None,
    pool: Any = None,
) -> list[list[Trajectory]]:
    """`group_size` episodes of each task, run `concurrency` at a time; returns one list per task, in order.

    `envs` is a reusable pool of env instances (grown with `make_env` as needed), so repeated calls do not
    rebuild environments. An episode whose token context fills the engine's window or `max_length` ends
    truncated (`Trajectory.truncation_reason`). With a `pool` (`agentgym.distributed.RayRolloutPool` of engine
    replicas, see `agentgym.trainers.rollout_workers`), its workers play the episodes with their own envs.
    """
    jobs = [(tid, i) for tid in task_ids for i in range(group_size)]
    if pool is not None:
        done = await pool.run(jobs, options=(params, max_length), prepare=prepare)
    else:
        done = await run_episodes(make_env, engine_policy(engine, params, max_length), jobs,
                                  concurrency=concurrency, env_id=env_id, envs=envs, prepare=prepare)
    return [[t for t in done[g * group_size:(g + 1) * group_size] if t is not None] for g in range(len(task_ids))]


class TaskSampler:
    """Shuffled passes over the training tasks. Its state (the RNG and what is left of the current pass)
    is the run's data position, saved in checkpoints."""

    def __init__(self, tasks: Sequence[str], seed: int) -> None:
        self.tasks = list(tasks)
        self.rng = random.Random(seed)
        self.order: list[str] = []

    def next(self, n: int) -> list[str]:
        out = []
        while len(out) < n:
            if not self.order:
                self.order = list(self.tasks)
                self.rng.shuffle(self.order)
            out.append(self.order.pop())
        return out

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss], "order": list(self.order)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        self.order = list(state["order"])
