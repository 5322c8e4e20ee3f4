"""`generate_domain`: a seeded, CC-Gen-style synthetic customer-service domain as a `PolicyDomain`."""

from __future__ import annotations

import numpy as np
from agentgym.envs.policy.generator.airline import AIRLINE
from agentgym.envs.policy.generator.bank import BANK
from agentgym.envs.policy.generator.clinic import CLINIC
from agentgym.envs.policy.generator.dials import Dials
from agentgym.envs.policy.generator.policy_doc import render_policy
from agentgym.envs.policy.generator.retail import RETAIL
from agentgym.envs.policy.generator.tasks import build_task, sample_spec
from agentgym.envs.policy.generator.template import Template
from agentgym.envs.policy.generator.world import build_world
from agentgym.envs.policy.types import PolicyDomain

__all__ = ["DOMAIN_KINDS", "TEMPLATES", "generate_domain", "templates_for"]

TEMPLATES: dict[str, Template] = {t.name: t for t in (RETAIL, AIRLINE, BANK, CLINIC)}
DOMAIN_KINDS = (*TEMPLATES, "mixed")


def templates_for(domain: str) -> list[Template]:
    """The templates of a domain kind: one of them, or all four for "mixed"."""
    if domain == "mixed":
        return list(TEMPLATES.values())
    if domain not in TEMPLATES:
        raise ValueError(f"unknown domain {domain!r}; choose one of {list(DOMAIN_KINDS)}")
    return [TEMPLATES[domain]]


def generate_domain(domain: str = "retail", *, env_level: int = 1, task_level: int = 1, workflow_level: int = 1,
                    query_level: int = 1, num_tasks: int = 20, seed: int = 0, test_every: int = 4) -> PolicyDomain:
    """Generate a domain: database, tools, policy document (rules numbered and categorized) and tasks.

    The same arguments always give the same domain. Task `i` depends only on the world and `i` (not on
    `num_tasks`), so a larger `num_tasks` extends a smaller one.

    Args:
        domain: "retail", "airline", "bank", "clinic" or "mixed" (all four over one users table).
        env_level, task_level, workflow_level, query_level: the four dials, each 1-4 (see `Dials`).
        num_tasks: how many tasks to generate.
        seed: the seed of the world and its tasks.
        test_every: task `i` is in the "test" split when `i % test_every == 0`, else in "train" (1: all test).
    """
    dials = Dials(env_level, task_level, workflow_level, query_level)
    if num_tasks < 1:
        raise ValueError("num_tasks must be >= 1")
    if test_every < 1:
        raise ValueError("test_every must be >= 1")
    templates = templates_for(domain)
    key = [int(seed), DOMAIN_KINDS.index(domain), env_level]
    world = build_world(templates, dials, np.random.default_rng(key))
    policy = render_policy(templates, dials)
    tasks = []
    for i in range(num_tasks):
        rng = np.random.default_rng([*key, task_level, workflow_level, query_level, 1 + i])
        task = build_task(world, policy, sample_spec(world, rng), rng, f"{domain}-{i}")
        task.split = "test" if i % test_every == 0 else "train"
        tasks.append(task)
    return PolicyDomain(name=f"policydoc-{domain}", data=world.data, tools=world.tools, policy=policy.markdown,
                        tasks=tasks, rules=policy.rules,
                        metadata={"generator": "policydoc", "domain": domain, "seed": seed, **dials.as_dict(),
                                  "templates": [t.name for t in templates]})
