"""Worked scenarios: a task told as its situation, the rules that apply, and what the agent does (the
task's gold actions and the outputs it tells the user)."""

from __future__ import annotations

import json
from typing import Any

from agentgym.envs.policy.generator import MISMATCH_PHRASE
from agentgym.envs.policy.internalization.context import PolicyContext
from agentgym.envs.policy.internalization.ladders import (
    PolicyStructure,
    describe_owner,
    describe_record,
    explain,
    outcome_answer,
)
from agentgym.envs.policy.types import PolicyDomain, PolicyTask, Rule, RuleCategory

__all__ = ["scenario_category", "task_rule_ids", "worked_scenario"]

_ORDER = (RuleCategory.CONDITIONAL, RuleCategory.BEHAVIORAL, RuleCategory.FACTUAL)


def task_rule_ids(task: PolicyTask) -> list[str]:
    """The ids of the rules a task exercises (from the generator's metadata; empty when not given)."""
    return [str(r["id"]) for r in task.metadata.get("rules", []) if isinstance(r, dict) and "id" in r]


def scenario_category(rules: list[Rule]) -> str:
    """The most specific category among the rules a scenario applies: conditional, then behavioral."""
    present = {RuleCategory(r.category) for r in rules}
    return next((c.value for c in _ORDER if c in present), RuleCategory.BEHAVIORAL.value)


def _call(name: str, kwargs: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={json.dumps(v)}' for k, v in kwargs.items())})"


def _request_lines(domain: PolicyDomain, structure: PolicyStructure, task: PolicyTask) -> list[str]:
    """One line per request: what is asked, about which record, and what the policy decides."""
    users, lines = domain.data.get("users", {}), []
    keys = structure.keys
    for n, req in enumerate(task.metadata.get("requests", []), start=1):
        template = structure.template(req["template"])
        if req.get("forbidden"):
            lines.append(f"{n}. The user asks: \"{template.forbidden.request}\" Rule {keys[f'{template.name}/forbidden']} "
                         f"forbids it: the agent replies exactly \"{template.forbidden.phrase}\" and calls no tool.")
            continue
        record = domain.data.get(template.table, {}).get(req.get("record_id"))
        if record is None:
            continue
        asked = f"{n}. The user asks to {req['kind']} {describe_record(template, record)}."
        if req.get("mismatch"):
            lines.append(f"{asked} It belongs to another user, so rule {keys['ownership']} applies: the agent "
                         f"replies exactly \"{MISMATCH_PHRASE}\" and changes nothing.")
            continue
        ladder = structure.ladder(template.name, req["kind"])
        owner = users.get(record.get("user_id"), {})
        reasoning, _, outcome = explain(ladder, record, owner)
        who = f" The user's {describe_owner([template], owner)}."
        answer = outcome_answer(ladder, reasoning, outcome, keys.get("confirm"))
        if req.get("declined"):
            answer += f" But the user answers no when asked to confirm, so by rule {keys['confirm']} nothing is written."
        lines.append(f"{asked}{who} {answer}")
    return lines


def worked_scenario(domain: PolicyDomain, task: PolicyTask, ctx: PolicyContext,
                    structure: PolicyStructure | None) -> tuple[str, list[str]]:
    """(the scenario's text, the rule ids it applies) for one task."""
    rules = {r.id: r for r in domain.rules}
    ids = [i for i in task_rule_ids(task) if i in rules]
    opening = task.goal.opening if task.goal is not None else task.instruction
    lines = [f"Worked scenario under {ctx.label} (task {task.id}).", f"Situation: the user writes \"{opening}\""]
    if task.goal is not None and task.goal.requests:
        lines.append("Later requests: " + " ".join(f"\"{r}\"" for r in task.goal.requests))
    if structure is not None and task.metadata.get("requests"):
        lines.append("What is asked and what the policy decides:")
        lines += _request_lines(domain, structure, task)
    if ids:
        lines.append("The rules that apply:")
        lines += [f"- rule {i} ({rules[i].category}): {rules[i].text}" for i in ids]
    if task.actions:
        lines.append("What the agent does, in order:")
        lines += [f"{n}. {_call(a.name, a.kwargs)}" for n, a in enumerate(task.actions, start=1)]
    else:
        lines.append("What the agent does: no tool call changes anything.")
    if task.outputs:
        lines.append("It tells the user: " + "; ".join(f"\"{o}\"" for o in task.outputs) + ".")
    return "\n".join(lines), ids
