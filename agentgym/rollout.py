"""Running many episodes for eval and data collection: `collect` (and `acollect`) over the one episode
loop in `agentgym.episode`.

`collect` keeps a pool of `concurrency` environments, shows a progress bar, appends every finished
trajectory to an optional `TrajectoryStore` as it finishes, and skips episodes the store already holds, so an
interrupted collection resumes where it stopped. An `AgentError` (bad key, unreachable server) stops the
whole collection; any other failure is recorded on the episode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agentgym.agents.base import Agent
from agentgym.env import LanguageEnv
from agentgym.episode import env_factory, run_episode, run_episodes
from agentgym.trajectory import Trajectory, TrajectoryStore, episode_key

if TYPE_CHECKING:
    from agentgym.distributed import RayRolloutPool

__all__ = ["acollect", "collect", "run_episode"]

EnvSource = str | LanguageEnv | Callable[[], LanguageEnv]


async def acollect(
    env: EnvSource,
    agent: Agent | RayRolloutPool,
    task_ids: Sequence[str] | None = None,
    *,
    num_tasks: int | None = None,
    split: str | None = None,
    group_size: int = 1,
    concurrency: int = 8,
    store: TrajectoryStore | None = None,
    progress: bool = True,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> list[Trajectory]:
    """Run `group_size` episodes per task with up to `concurrency` at once; see the module docstring.

    Tasks: `task_ids`, else the first `num_tasks` ids of `split` of the env's dataset. Returns the
    trajectories of every requested episode, including those already in `store`. With a `RayRolloutPool` as
    `agent`, its workers play the episodes (its own env and agent; same seeds, store and progress bar) and
    `concurrency` is the pool's.
    """
    make_env, env_id = env_factory(env, env_kwargs)
    first_env = make_env()
    envs: list[Any] = [first_env]
    try:
        if task_ids is None:
            from agentgym.tasks import select_tasks

            task_ids = select_tasks(first_env.tasks, split or first_env.split, num_tasks)
        work = [(tid, k) for tid in task_ids for k in range(group_size)]
        done: dict[str, Trajectory] = {}
        if store is not None:
            wanted = {episode_key(t, k) for t, k in work}
            for t in store:
                if t.finished and t.episode_id in wanted:
                    done[t.episode_id] = t
        todo = [(t, k) for t, k in work if episode_key(t, k) not in done]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(work), initial=len(work) - len(todo), desc=f"{env_id} x {agent.name}", unit="ep")

        def finished(traj: Trajectory) -> None:
            if store is not None and traj.finished:
                store.append(traj)
            if bar is not None:
                bar.update(1)

        try:
            if isinstance(agent, Agent):
                ran = await run_episodes(make_env, agent, todo, concurrency=concurrency, env_id=env_id, envs=envs,
                                         seed=seed, on_done=finished)
            else:  # a rollout pool: its workers play the episodes
                ran = await agent.run(todo, seed=seed, on_done=finished)
        finally:
            if bar is not None:
                bar.close()
    finally:
        for e in envs:
            await e.aclose()
    results = {**done, **{traj.episode_id: traj for traj in ran if traj is not None}}
    return [results[episode_key(t, k)] for t, k in work if episode_key(t, k) in results]


def collect(env: EnvSource, agent: Agent, task_ids: Sequence[str] | None = None, **kwargs: Any) -> list[Trajectory]:
    """Synchronous `acollect` (for scripts; inside an event loop await `acollect` instead)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(acollect(env, agent, task_ids, **kwargs))
    raise RuntimeError("collect() was called inside a running event loop: use `await acollect(...)`")
