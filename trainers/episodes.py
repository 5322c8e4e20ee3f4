"""Token-exact rollouts for training: drive environments with a `RolloutEngine`.

Unlike a chat agent, which re-renders the whole conversation before every turn, this loop keeps the
episode's token context and extends it: the generated ids are appended exactly as sampled, then the
chat-template delta of the observation (`agentgym.trainers.data.turn_delta_ids`). The sequence the policy
was sampled on is therefore exactly the sequence `build_batch` rebuilds for the loss.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from agentgym.trainers.data import prompt_ids, turn_delta_ids
from agentgym.trainers.engines.base import RolloutEngine

from agentgym.models.context import ContextWindowExceeded, completion_budget
from agentgym.models.generation import SamplingParams
from agentgym.trajectory import Trajectory, Turn, episode_key

EnvFactory = Callable[[], Any]
# (first messages, task id, sample index) -> the messages the policy starts from
PreparePrompt = Callable[[list[dict[str, Any]], str, int], list[dict[str, Any]]]


def env_factory(env: Any, env_kwargs: dict[str, Any] | None = None) -> tuple[EnvFactory, str]:
    """A factory of fresh env instances from an env id, a factory, or an instance registered with a spec."""
    from agentgym.registry import full_id, make

    if isinstance(env, str):
        fid = full_id(env)
        return (lambda: make(fid, **(env_kwargs or {}))), fid
    if isinstance(env, type) or (callable(env) and not hasattr(env, "astep")):
        return env, getattr(env, "__name__", "env")
    spec = getattr(env, "spec", None)
    if spec is not None:
        pool = [env]
        kwargs = {**spec.kwargs, **(env_kwargs or {})}
        return (lambda: pool.pop() if pool else make(spec.id, **kwargs)), spec.id
    raise TypeError("pass an env id, a zero-argument env factory, or an env made by agentgym.make")


async def run_episode(
    env: Any,
    engine: RolloutEngine,
    task_id: str,
    params: SamplingParams,
    *,
    sample_index: int = 0,
    max_length: int | None = None,
    env_id: str = "",
    prepare: PreparePrompt | None = None,
) -> Trajectory:
    """Play one episode; stop strings come from the env (`info["stop"]`) on top of `params.stop`.

    The episode ends truncated, with the reason in `Trajectory.truncation_reason`, once its token context
    fills the engine's context window or reaches `max_length`.

    An env whose info says `context_reset` (e.g. `agentgym.wrappers.MarkovianWorkspace`) returns the whole
    next prompt as its observation: the token context then restarts from that prompt, and every turn
    records the exact prompt ids it was generated from in `Turn.prompt_ids` (one sample per turn).
    """
    tok = engine.tokenizer
    started, t0 = time.time(), time.perf_counter()
    messages, info = await env.areset(options={"task_id": task_id})
    if prepare is not None:  # e.g. a shaper stating a token budget or forcing a mode
        messages = prepare(list(messages), str(task_id), sample_index)
    stop = tuple(dict.fromkeys([*params.stop, *info.get("stop", [])]))
    traj = Trajectory(episode_id=episode_key(task_id, sample_index), env_id=env_id, task_id=str(task_id),
                      agent_id="policy", sample_index=sample_index, messages=[dict(m) for m in messages],
                      started_at=started)
    # what the env tells trainers (gold answers, task kind ...): reset info, then the final step's on top
    traj.info.update({k: v for k, v in info.items() if k != "stop"})
    context = prompt_ids(tok, messages)
    history = list(messages)
    segmented = bool(info.get("context_reset"))  # the env rebuilds the context every turn
    done = False
    window = engine.context_window
    while not done:
        try:  # the engine's window first, then the trainer's own max_length
            budget = completion_budget(len(context), params.max_new_tokens, window, strict=False)
            if max_length is not None and len(context) >= max_length:
                raise ContextWindowExceeded(max_length, len(context), message=(
                    f"the episode's token context ({len(context)} tokens) reached the trainer's max_length "
                    f"({max_length})"))
        except ContextWindowExceeded as e:
            traj.truncated, traj.truncation_reason = True, str(e)
            break
        if max_length is not None:
            budget = min(budget, max_length - len(context))
        ta = time.perf_counter()
        gen = await engine.generate(context, SamplingParams(budget, params.temperature, params.top_p, stop))
        tb = time.perf_counter()
        assistant = {"role": "assistant", "content": gen.text}
        obs, reward, terminated, truncated, step_info = await env.astep(gen.text)
        te = time.perf_counter()
        done = bool(terminated or truncated)
        reset = bool(step_info.get("context_reset"))
        traj.turns.append(Turn(
            assistant=assistant, observation=[dict(m) for m in obs], reward=float(reward),
            token_ids=list(gen.token_ids), logprobs=list(gen.logprobs), prompt_tokens=len(context),
            completion_tokens=len(gen.token_ids), finish_reason=gen.finish_reason,
            tool_calls=list(step_info.get("tool_calls", [])), parse_errors=list(step_info.get("parse_errors", [])),
            agent_seconds=tb - ta, env_seconds=te - tb,
            prompt_ids=list(context) if segmented else None, context_reset=reset,
        ))
        context = context + list(gen.token_ids)
        if done:
            traj.terminated, traj.truncated = bool(terminated), bool(truncated)
            traj.success = bool(step_info.get("success", False))
            traj.answer = step_info.get("answer")
            traj.reward_components = dict(step_info.get("reward_components", {}))
            traj.info.update({k: v for k, v in step_info.items() if k != "stop"})
        elif reset:  # the observation is the complete next prompt: a fresh token context
            context, history, segmented = prompt_ids(tok, obs), list(obs), True
            continue
        else:
            context = context + turn_delta_ids(tok, history, obs, gen.token_ids)
        history += [assistant, *obs]
    traj.reward = sum(t.reward for t in traj.turns)
    traj.seconds = time.perf_counter() - t0
    return traj


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
) -> list[list[Trajectory]]:
    """`group_size` episodes of each task, run `concurrency` at a time; returns one list per task.

    `envs` is a reusable pool of env instances (grown with `make_env` as needed), so repeated calls do
    not rebuild environments.
    """
    pool: list[Any] = envs if envs is not None else []
    jobs = [(g, tid, i) for g, tid in enumerate(task_ids) for i in range(group_size)]
    n_workers = max(1, min(concurrency, len(jobs)))
    while len(pool) < n_workers:
        pool.append(make_env())
    out: list[list[Trajectory | None]] = [[None] * group_size for _ in task_ids]
    queue: asyncio.Queue[tuple[int, str, int]] = asyncio.Queue()
    for j in jobs:
        queue.put_nowait(j)

    async def worker(env: Any) -> None:
        while True:
            try:
                g, tid, i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            out[g][i] = await run_episode(env, engine, tid, params, sample_index=i, max_length=max_length,
                                          env_id=env_id, prepare=prepare)

    await asyncio.gather(*(worker(pool[w]) for w in range(n_workers)))
    return [[t for t in group if t is not None] for group in out]
