"""The policy-following agent through the real PolicyEnv: reward 1.0 on every generated task at every level
of every dial, and each rule-skipping agent fails exactly on the tasks whose metadata says its rule
category matters."""

from __future__ import annotations

import warnings
from collections import Counter

import pytest
from agentgym.envs.policy import PolicyOracleAgent, make_policydoc_env, matters
from agentgym.envs.policy.generator import DIAL_NAMES, DOMAIN_KINDS, SKIPPABLE
from gymnasium.utils.env_checker import check_env

import agentgym
from agentgym.episode import run_episode

AGENTS = [None, *SKIPPABLE]


def grid() -> list[tuple[str, dict[str, int], int]]:
    """Every level of every dial for every domain kind (the other dials vary along), each with its seed."""
    out = []
    for d, domain in enumerate(DOMAIN_KINDS):
        for i, dial in enumerate(DIAL_NAMES):
            for level in range(1, 5):
                dials = {name: 1 + (d + 2 * i + level + j) % 4 for j, name in enumerate(DIAL_NAMES)}
                dials[dial] = level
                out.append((domain, dials, 7 * d + 3 * i + level))
    return out


@pytest.mark.parametrize(("domain", "dials", "seed"), grid())
async def test_oracle_solves_everything_and_skippers_fail_exactly_where_it_matters(domain, dials, seed):
    env = make_policydoc_env(domain, **dials, num_tasks=3, seed=seed)
    try:
        for task in env.domain.tasks:
            for skip in AGENTS:
                traj = await run_episode(env, PolicyOracleAgent(skip), task.id)
                assert traj.error is None and not traj.truncated and traj.terminated
                expected = 1.0 if skip is None or not matters(task, skip) else 0.0
                assert traj.reward == expected, (task.id, skip, traj.reward_components, task.metadata)
    finally:
        env.close()


def test_the_split_is_not_trivial():
    """Over the grid's tasks, each skipped category matters for some tasks and not for others, so the grid
    test above checks both directions for every skipper."""
    split: Counter = Counter()
    for domain, dials, seed in grid():
        env = make_policydoc_env(domain, **dials, num_tasks=3, seed=seed)
        for task in env.domain.tasks:
            for skip in SKIPPABLE:
                split[(skip, matters(task, skip))] += 1
        env.close()
    for skip in SKIPPABLE:
        assert split[(skip, True)] > 0 and split[(skip, False)] > 0, split


async def test_native_tool_calls_and_reasoning_in_every_message():
    env = make_policydoc_env("mixed", env_level=2, task_level=2, workflow_level=3, query_level=4, num_tasks=3,
                             seed=5, protocol="native")
    try:
        for task in env.domain.tasks:
            traj = await run_episode(env, PolicyOracleAgent(), task.id)
            assert traj.reward == 1.0, traj.reward_components
            assert all(t.assistant["content"].startswith("<think>") for t in traj.turns)
            assert any(t.assistant.get("tool_calls") for t in traj.turns)
            assert all(len(t.tool_calls) <= 1 for t in traj.turns)  # one tool call per turn
    finally:
        env.close()


def test_registered_env_passes_check_env_with_every_domain_kind():
    for domain in DOMAIN_KINDS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            env = agentgym.make("agentgym/PolicyDoc-v0", domain=domain, env_level=2, workflow_level=3,
                                query_level=2, num_tasks=4, seed=1)
            try:
                assert env.spec is not None and env.spec.id == "agentgym/PolicyDoc-v0"
                check_env(env)
            finally:
                env.close()


def test_oracle_refuses_unknown_skips_and_foreign_policies():
    with pytest.raises(ValueError, match="skip must be"):
        PolicyOracleAgent(skip="be_polite")
    with pytest.raises(ValueError, match="version line"):
        PolicyOracleAgent().next_step([{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hi"}])
