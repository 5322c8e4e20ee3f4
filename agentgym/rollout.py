"""Running episodes: one (`run_episode`) or many concurrently on one event loop (`collect`).

`collect` keeps a pool of `concurrency` environments, each driven by its own worker coroutine, shows a
progress bar, appends every finished trajectory to an optional `TrajectoryStore` as it finishes, and skips
episodes the store already holds, so an interrupted collection resumes where it stopped. An `AgentError`
(bad key, unreachable server) stops the whole collection; any other failure is recorded on the episode.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym

from agentgym.agents.base import Agent, AgentError, ContextWindowExceeded
from agentgym.env import LanguageEnv
from agentgym.trajectory import Trajectory, TrajectoryStore, Turn, episode_key

EnvSource = str | LanguageEnv | Callable[[], LanguageEnv]


def _env_factory(env: EnvSource, env_kwargs: dict[str, Any] | None) -> tuple[Callable[[], LanguageEnv], str]:
    from agentgym.registry import full_id, make

    if isinstance(env, str):
        fid = full_id(env)
        return (lambda: make(fid, **(env_kwargs or {}))), fid
    if isinstance(env, gym.Env):  # a LanguageEnv or a wrapper such as agentgym.wrappers.TAPOWrapper
        spec = env.spec
        if spec is None:
            first = [env]

            def only_one() -> LanguageEnv:
                if not first:
                    raise RuntimeError("an env instance without a spec cannot be copied; pass an env id or a factory")
                return first.pop()

            return only_one, type(env).__name__
        kwargs = {**spec.kwargs, **(env_kwargs or {})}
        pool = [env]
        return (lambda: pool.pop() if pool else make(spec.id, **kwargs)), spec.id
    return env, getattr(env, "__name__", "env")


async def run_episode(
    env: LanguageEnv,
    agent: Agent,
    task_id: str | None = None,
    sample_index: int = 0,
    env_id: str = "",
    seed: int | None = None,
) -> Trajectory:
    """Play one episode of `env` with `agent` and return its trajectory.

    Raises `AgentError` (the agent cannot work at all); a conversation that outgrows the agent's context
    window ends the episode truncated (`Trajectory.truncation_reason`); other errors are stored in
    `Trajectory.error`.
    """
    options = {"task_id": task_id} if task_id is not None else None
    started = time.time()
    t0 = time.perf_counter()
    obs, info = await env.areset(seed=seed, options=options)
    tid = str(info.get("task_id", task_id))
    traj = Trajectory(
        episode_id=episode_key(tid, sample_index), env_id=env_id, task_id=tid, agent_id=agent.name,
        sample_index=sample_index, messages=obs, started_at=started,
        info={"protocol": info.get("protocol"), "max_turns": info.get("max_turns")},
    )
    conversation = list(obs)
    tools = info.get("tools") if info.get("protocol") == "native" else None
    stop = info.get("stop") or None
    try:
        while True:
            out = await agent.act(conversation, tools=tools, stop=stop)
            t_env = time.perf_counter()
            obs, reward, terminated, truncated, step_info = await env.astep(out.message)
            traj.turns.append(Turn(
                assistant=out.message, observation=obs, reward=reward, token_ids=out.token_ids, logprobs=out.logprobs,
                prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens, cost=out.cost,
                finish_reason=out.finish_reason, tool_calls=step_info.get("tool_calls", []),
                parse_errors=step_info.get("parse_errors", []), agent_seconds=out.latency,
                env_seconds=time.perf_counter() - t_env, context_reset=bool(step_info.get("context_reset")),
            ))
            if step_info.get("context_reset"):  # the env rebuilt the context: obs is the whole next prompt
                conversation = list(obs)
            else:
                conversation.append(out.message)
                conversation.extend(obs)
            if terminated or truncated:
                traj.terminated, traj.truncated = terminated, truncated
                traj.reward = sum(t.reward for t in traj.turns)
                traj.success = bool(step_info.get("success", False))
                traj.answer = step_info.get("answer")
                traj.reward_components = step_info.get("reward_components", {})
                for key in ("gold_answers", "gold_doc_ids"):
                    if key in step_info:
                        traj.info[key] = step_info[key]
                break
    except AgentError:
        raise
    except ContextWindowExceeded as e:  # the conversation outgrew the model: this episode ends, the run goes on
        traj.truncated, traj.truncation_reason = True, str(e)
        traj.reward = sum(t.reward for t in traj.turns)
    except Exception as e:
        traj.error = f"{type(e).__name__}: {e}"
        await env.aclose()
    traj.seconds = time.perf_counter() - t0
    return traj


async def acollect(
    env: EnvSource,
    agent: Agent,
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
    trajectories of every requested episode, including those already in `store`.
    """
    make_env, env_id = _env_factory(env, env_kwargs)
    first_env = make_env()
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
    results: dict[str, Trajectory] = dict(done)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(work), initial=len(work) - len(todo), desc=f"{env_id} x {agent.name}", unit="ep")
    queue: asyncio.Queue[tuple[int, str, int]] = asyncio.Queue()
    for i, (t, k) in enumerate(todo):
        queue.put_nowait((i, t, k))
    envs: list[LanguageEnv] = [first_env]

    async def worker(env_obj: LanguageEnv) -> None:
        while True:
            try:
                i, tid, k = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            traj = await run_episode(env_obj, agent, tid, k, env_id=env_id, seed=seed + i)
            results[traj.episode_id] = traj
            if store is not None and traj.finished:
                store.append(traj)
            if bar is not None:
                bar.update(1)

    n_workers = max(1, min(concurrency, len(todo)))
    for _ in range(n_workers - 1):
        envs.append(make_env())
    tasks = [asyncio.ensure_future(worker(e)) for e in envs[:n_workers]]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        if bar is not None:
            bar.close()
        for e in envs:
            await e.aclose()
    return [results[episode_key(t, k)] for t, k in work if episode_key(t, k) in results]


def collect(env: EnvSource, agent: Agent, task_ids: Sequence[str] | None = None, **kwargs: Any) -> list[Trajectory]:
    """Synchronous `acollect` (for scripts; inside an event loop await `acollect` instead)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(acollect(env, agent, task_ids, **kwargs))
    raise RuntimeError("collect() was called inside a running event loop: use `await acollect(...)`")
