"""The one episode loop: eval, `collect` and every trainer play episodes through `run_episode` and
`run_episodes`.

A policy is an `Agent`. The loop asks it for a session per episode (`Agent.start_episode`) and does not
care what the session keeps: message-level agents (`openai:`, `litellm:`) re-send the conversation,
token-level ones (`TokenAgent`: `hf:` models, trainers' rollout engines) extend an exact token context and
report, per turn, the ids appended before the generation beside the ids generated and their log-probs.
The trajectory records both, so the trainer's token view concatenates what was recorded.

What the env says at reset and at the last step lands on the trajectory the same way for eval and
training: the typed records (`agentgym.records`: the task with its gold answers, the format verdict) on
`Trajectory.task` / `Trajectory.format`, the rest of `info` (but the tool schemas and stop strings) in
`Trajectory.info`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from agentgym.agents.base import Agent, AgentError, ContextWindowExceeded
from agentgym.records import FORMAT_INFO, TASK_INFO, FormatVerdict, TaskRecord
from agentgym.trajectory import Trajectory, Turn, episode_key

EnvFactory = Callable[[], Any]
# (opening messages, task id, sample index) -> the messages the policy starts from (e.g. a shaper's budget)
PreparePrompt = Callable[[list[dict[str, Any]], str, int], list[dict[str, Any]]]
_NOT_CARRIED = frozenset({"tools", "stop", TASK_INFO, FORMAT_INFO})


def env_factory(env: Any, env_kwargs: dict[str, Any] | None = None) -> tuple[EnvFactory, str]:
    """A factory of fresh env instances and the env's id, from an env id, an env class or zero-argument
    factory, or an env instance (made by `agentgym.make`, so that more of it can be made; one without a
    spec can be used once)."""
    from agentgym.registry import full_id, make

    if isinstance(env, str):
        fid = full_id(env)
        return (lambda: make(fid, **(env_kwargs or {}))), fid
    if isinstance(env, type):  # an env class: each call makes one
        return env, env.__name__
    if isinstance(env, gym.Env) or hasattr(env, "astep"):
        spec = getattr(env, "spec", None)
        pool = [env]
        if spec is None:
            def only_one() -> Any:
                if not pool:
                    raise RuntimeError("an env instance without a spec cannot be copied; pass an env id or a factory")
                return pool.pop()

            return only_one, type(env).__name__
        kwargs = {**spec.kwargs, **(env_kwargs or {})}
        return (lambda: pool.pop() if pool else make(spec.id, **kwargs)), spec.id
    if callable(env):
        return env, getattr(env, "__name__", "env")
    raise TypeError("pass an env id, an env made by agentgym.make, or a zero-argument env factory")


@dataclass(frozen=True)
class EpisodeContext:
    """The episode a policy is acting in, for agents that need it (a tree search replays the env to the same
    task with the same seed)."""

    task_id: str
    env_id: str
    sample_index: int
    seed: int | None


_EPISODE: ContextVar[EpisodeContext | None] = ContextVar("agentgym_episode", default=None)


def current_episode() -> EpisodeContext | None:
    """The episode `run_episode` is playing in the calling task (None outside an episode)."""
    return _EPISODE.get()


def _typed(info: dict[str, Any], key: str, kind: type[Any]) -> Any:
    """The record under `key`, checked to be a `kind` (a wrong type is the env's bug: say so)."""
    value = info.get(key)
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"info[{key!r}] must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _carried(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k not in _NOT_CARRIED}


async def run_episode(
    env: Any,
    policy: Agent,
    task_id: str | None = None,
    sample_index: int = 0,
    *,
    env_id: str = "",
    seed: int | None = None,
    prepare: PreparePrompt | None = None,
) -> Trajectory:
    """Play one episode of `env` with `policy` and return its trajectory.

    Raises `AgentError` (the policy cannot work at all). A context that outgrows the policy's window ends
    the episode truncated (`Trajectory.truncation_reason`); any other error is stored in `Trajectory.error`.
    """
    options = {"task_id": task_id} if task_id is not None else None
    started, t0 = time.time(), time.perf_counter()
    messages, info = await env.areset(seed=seed, options=options)
    tid = str(info.get("task_id", task_id))
    if prepare is not None:
        messages = prepare(list(messages), tid, sample_index)
    traj = Trajectory(episode_id=episode_key(tid, sample_index), env_id=env_id, task_id=tid, agent_id=policy.name,
                      sample_index=sample_index, messages=[dict(m) for m in messages], started_at=started,
                      info=_carried(info), task=_typed(info, TASK_INFO, TaskRecord))
    tools = info.get("tools") if info.get("protocol") == "native" else None
    context = _EPISODE.set(EpisodeContext(tid, env_id, sample_index, seed))
    try:
        session = policy.start_episode(messages, tools=tools, stop=tuple(info.get("stop") or ()))
        await play_turns(env, session, traj)
    except AgentError:
        raise
    except ContextWindowExceeded as e:  # the context outgrew the model: this episode ends, the run goes on
        traj.truncated, traj.truncation_reason = True, str(e)
    except Exception as e:
        traj.error = f"{type(e).__name__}: {e}"
        await env.aclose()
    finally:
        _EPISODE.reset(context)
    traj.reward = sum(t.reward for t in traj.turns)
    traj.seconds = time.perf_counter() - t0
    return traj


async def play_turns(env: Any, session: Any, traj: Trajectory, first: Any = None) -> None:
    """The turn loop of an episode: ask the session for an action, step the env, record the turn, until the
    env ends the episode (then the outcome goes on `traj`). `first`: an action already generated for the
    first of these turns (a trainer continuing an episode from a recorded prefix). Exceptions propagate."""
    out = first
    while True:
        if out is None:
            out = await session.next()
        t_env = time.perf_counter()
        obs, reward, terminated, truncated, step_info = await env.astep(out.message)
        reset = bool(step_info.get("context_reset"))
        traj.turns.append(Turn(
            assistant=out.message, observation=[dict(m) for m in obs], reward=float(reward),
            token_ids=out.token_ids, logprobs=out.logprobs, context_ids=out.context_ids,
            prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens, cost=out.cost,
            finish_reason=out.finish_reason, tool_calls=list(step_info.get("tool_calls", [])),
            parse_errors=list(step_info.get("parse_errors", [])), agent_seconds=out.latency,
            env_seconds=time.perf_counter() - t_env, context_reset=reset,
        ))
        if out.info:
            traj.info.update(out.info)
        if terminated or truncated:
            traj.terminated, traj.truncated = bool(terminated), bool(truncated)
            traj.success = bool(step_info.get("success", False))
            traj.answer = step_info.get("answer")
            traj.reward_components = dict(step_info.get("reward_components", {}))
            traj.info.update(_carried(step_info))
            traj.format = _typed(step_info, FORMAT_INFO, FormatVerdict)
            return
        session.observe(out, obs, reset)
        out = None


Job = tuple[str, int]  # (task id, sample index)


async def run_episodes(
    make_env: EnvFactory,
    policy: Agent,
    jobs: Sequence[Job],
    *,
    concurrency: int = 8,
    env_id: str = "",
    envs: list[Any] | None = None,
    seed: int | None = None,
    prepare: PreparePrompt | None = None,
    on_done: Callable[[Trajectory], Awaitable[None] | None] | None = None,
) -> list[Trajectory | None]:
    """Play `jobs` with up to `concurrency` episodes at once, one env per worker; returns the trajectory of
    each job, in order (None for a job not played because the run stopped).

    Args:
        envs: a pool of env instances to reuse and grow (kept open for the caller, e.g. a trainer's next
            step); without it the envs are made here and closed at the end.
        seed: job `i` resets its env with seed `seed + i` (None: the env's own).
        on_done: called with each trajectory as it finishes (a store, a progress bar).
    """
    own = envs is None
    pool: list[Any] = [] if envs is None else envs
    n_workers = max(1, min(concurrency, len(jobs)))
    queue: asyncio.Queue[tuple[int, Job]] = asyncio.Queue()
    for i, job in enumerate(jobs):
        queue.put_nowait((i, job))
    results: list[Trajectory | None] = [None] * len(jobs)

    async def worker(env: Any) -> None:
        while True:
            try:
                i, (tid, k) = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            traj = await run_episode(env, policy, tid, k, env_id=env_id, prepare=prepare,
                                     seed=None if seed is None else seed + i)
            results[i] = traj
            if on_done is not None:
                done = on_done(traj)
                if done is not None:
                    await done

    try:
        while len(pool) < n_workers:
            pool.append(make_env())
        workers = [asyncio.ensure_future(worker(pool[w])) for w in range(n_workers)] if jobs else []
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
    finally:
        if own:
            for env in pool:
                await env.aclose()
    return results
