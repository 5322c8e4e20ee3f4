"""`agentgym/PolicyDoc-v0`: a `PolicyEnv` over a freshly generated CC-Gen-style domain."""

from __future__ import annotations

from typing import Any

from agentgym.envs.policy.env import PolicyEnv
from agentgym.envs.policy.generator import generate_domain

__all__ = ["default_max_turns", "make_policydoc_env"]


def default_max_turns(task_level: int, query_level: int) -> int:
    """Room for a policy-following agent: authentication plus, per request, the id question, a scan of the
    user's records, the owner lookup, the confirmation, the write and the closing message."""
    requests = task_level + (query_level == 4)
    return 10 + 14 * requests


def make_policydoc_env(domain: str = "retail", *, env_level: int = 1, task_level: int = 1, workflow_level: int = 1,
                       query_level: int = 1, num_tasks: int = 20, seed: int = 0, test_every: int = 4,
                       user: Any = None, max_turns: int | None = None, split: str | None = "test",
                       **kwargs: Any) -> PolicyEnv:
    """A `PolicyEnv` over `generate_domain(domain, ...)`.

    Args:
        domain: "retail", "airline", "bank", "clinic" or "mixed".
        env_level, task_level, workflow_level, query_level: the generator's dials, each 1-4.
        num_tasks: tasks to generate; seed: the generator's seed; test_every: every `test_every`-th task is
            a "test" task, the others "train" (trainers train on "train" and evaluate on "test").
        user: the simulated user (None: the deterministic `ScriptedUser`; an agent spec such as
            "openai:gpt-4o-mini" or an `Agent` plays it from each task's instruction).
        max_turns: assistant turns before truncation (default: enough for the dials, `default_max_turns`).
        split: the split `reset(seed=...)` and evaluation draw from.
        **kwargs: more `PolicyEnv` options (protocol, user_options, ...).
    """
    generated = generate_domain(domain, env_level=env_level, task_level=task_level, workflow_level=workflow_level,
                                query_level=query_level, num_tasks=num_tasks, seed=seed, test_every=test_every)
    turns = max_turns if max_turns is not None else default_max_turns(task_level, query_level)
    return PolicyEnv(generated, user=user, max_turns=turns, split=split, **kwargs)
