"""Checks on generated tasks: gold replays cleanly, and which rule categories a task depends on."""

from __future__ import annotations

import copy

from agentgym.envs.policy.execution import run_tool
from agentgym.envs.policy.generator.solver import GenerationError
from agentgym.envs.policy.types import Database, PolicyDomain, PolicyTask

__all__ = ["SKIPPABLE", "matters", "verify_gold"]

#: the rule categories a rule-skipping agent can leave out (see `agentgym.envs.policy.oracle`)
SKIPPABLE = ("authenticate", "confirm", "nested_conditions")


def verify_gold(domain: PolicyDomain, task: PolicyTask) -> Database:
    """Replay `task.actions` with the domain's tools on a fresh copy; every call must succeed. Returns the
    final database; raises `GenerationError` naming the first call that failed."""
    by_name = {t.name: t for t in domain.tools}
    data = copy.deepcopy(domain.data)
    for i, action in enumerate(task.actions):
        if action.name not in by_name:
            raise GenerationError(f"task {task.id}: action {i} calls unknown tool {action.name!r}")
        result = run_tool(by_name[action.name], data, action.kwargs)
        if not result.ok:
            raise GenerationError(f"task {task.id}: action {i} {action.name}({action.kwargs}) failed: "
                                  f"{result.exception or result.output}")
        data = result.data
    return data


def matters(task: PolicyTask, category: str) -> bool:
    """Whether skipping a rule category changes a generated task's outcome, from its metadata.

    - "authenticate": a request names another user's record (only the ownership check after authenticating
      catches it), or the user gives no record ids (query level >= 3: their records are found through the
      authenticated profile).
    - "confirm": the user declines a write when asked, so a write made without asking is one too many.
    - "nested_conditions": deciding with only each rule's outermost condition ends in another database or
      misses a required output (`nested_decisive`, computed by running the policy both ways).
    """
    meta = task.metadata
    requests = meta.get("requests", [])
    if category == "authenticate":
        return meta["query_level"] >= 3 or any(r["mismatch"] for r in requests)
    if category == "confirm":
        return any(r["declined"] for r in requests)
    if category == "nested_conditions":
        return bool(meta.get("nested_decisive"))
    raise ValueError(f"unknown category {category!r}; choose one of {list(SKIPPABLE)}")
