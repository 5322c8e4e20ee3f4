"""`sft_conversations`: SFT data from a policy-following agent playing the real env.

The agent (by default `PolicyOracleAgent`, whose messages carry its reasoning in `<think>` blocks) plays
each task in a `PolicyEnv` with the scripted user, through the one episode loop (`run_episodes`); only
successful episodes are kept. With `drop_policy` the policy document in each system prompt is replaced by
`policy_free_prompt` (the tool descriptions stay), so a model trained on them has to act from a policy it
has internalized.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.envs.policy.env import PolicyEnv
from agentgym.envs.policy.internalization.context import policy_free_prompt
from agentgym.envs.policy.internalization.records import SFTRecord
from agentgym.envs.policy.internalization.scenarios import task_rule_ids
from agentgym.envs.policy.types import PolicyDomain, PolicyTask

from agentgym._sync import SyncRunner
from agentgym.agents.base import Agent
from agentgym.episode import run_episodes
from agentgym.models.chat_template import text_messages
from agentgym.trajectory import Trajectory

__all__ = ["asft_conversations", "drop_policy_text", "sft_conversations"]


def drop_policy_text(system: str, domain: PolicyDomain) -> str:
    """`system` with the domain's policy document replaced by `policy_free_prompt(domain)`."""
    for policy in (domain.policy, domain.policy.strip()):
        if policy and policy in system:
            return system.replace(policy, policy_free_prompt(domain), 1)
    raise ValueError(f"the system prompt does not contain domain {domain.name!r}'s policy document")


def _categories(domain: PolicyDomain, task: PolicyTask) -> list[str]:
    by_id = {r.id: str(r.category) for r in domain.rules}
    return sorted({by_id[i] for i in task_rule_ids(task) if i in by_id})


def _record(domain: PolicyDomain, traj: Trajectory, drop_policy: bool) -> SFTRecord:
    # native tool calls and results are spelled out in the Hermes text form (a no-op for text protocols)
    messages = [{"role": str(m["role"]), "content": m.get("content") or ""} for m in text_messages(traj.transcript())]
    if drop_policy:
        messages = [{**m, "content": drop_policy_text(m["content"], domain)} if m["role"] == "system" else m
                    for m in messages]
    task = next(t for t in domain.tasks if t.id == traj.task_id)
    return SFTRecord(messages, traj.task_id, domain.name, float(traj.reward), traj.num_turns,
                     _categories(domain, task), drop_policy)


def _task_ids(domain: PolicyDomain, tasks: int | Sequence[str] | None) -> list[str]:
    ids = [t.id for t in domain.tasks]
    if tasks is None:
        return ids
    if isinstance(tasks, int):
        return ids[:tasks]
    unknown = [t for t in tasks if t not in ids]
    if unknown:
        raise KeyError(f"unknown task ids {unknown}")
    return list(tasks)


async def asft_conversations(domain: PolicyDomain, *, tasks: int | Sequence[str] | None = None,
                             drop_policy: bool = True, agent: Agent | None = None, max_turns: int | None = None,
                             min_reward: float = 1.0, concurrency: int = 4, **env_kwargs: Any) -> list[SFTRecord]:
    """The async form of `sft_conversations` (same arguments)."""
    from agentgym.envs.policy.oracle import PolicyOracleAgent

    policy = agent if agent is not None else PolicyOracleAgent()
    if max_turns is None:
        from agentgym.envs.policy.policydoc import default_max_turns

        levels = domain.metadata
        max_turns = default_max_turns(int(levels.get("task_level", 4)), int(levels.get("query_level", 4)))
    turns = max_turns

    def make_env() -> PolicyEnv:
        return PolicyEnv(domain, max_turns=turns, **env_kwargs)

    jobs = [(tid, 0) for tid in _task_ids(domain, tasks)]
    trajectories = await run_episodes(make_env, policy, jobs, concurrency=concurrency, env_id=domain.name)
    kept = [t for t in trajectories if t is not None and t.error is None and t.success and t.reward >= min_reward]
    return [_record(domain, t, drop_policy) for t in kept]


def sft_conversations(domain: PolicyDomain, *, tasks: int | Sequence[str] | None = None, drop_policy: bool = True,
                      agent: Agent | None = None, max_turns: int | None = None, min_reward: float = 1.0,
                      concurrency: int = 4, **env_kwargs: Any) -> list[SFTRecord]:
    """Successful conversations of a policy-following agent on `domain`'s tasks, as chat messages.

    Args:
        domain: the domain whose tasks are played (the scripted user needs each task's `goal`).
        tasks: the first N tasks, a list of task ids, or None for all.
        drop_policy: replace the policy document in the system prompt by a short instruction without it.
        agent: the agent (default: `PolicyOracleAgent()`, which follows a generated domain's policy).
        max_turns: assistant turns per episode (default: enough for the domain's dials).
        min_reward: the least reward an episode needs to be kept (τ-bench's reward is 0 or 1).
        concurrency: episodes played at once.
        **env_kwargs: more `PolicyEnv` options (protocol, user, ...).
    """
    runner = SyncRunner()
    try:
        return runner.run(asft_conversations(domain, tasks=tasks, drop_policy=drop_policy, agent=agent,
                                             max_turns=max_turns, min_reward=min_reward, concurrency=concurrency,
                                             **env_kwargs))
    finally:
        runner.close()
