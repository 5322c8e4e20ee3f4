"""Texts from a generated policy's structure: each request kind's whole ladder of nested conditions
(as nested prose, as "unless" prose and as a decision list), decisions on concrete database records, and
the forbidden requests.

A generated domain's policy names its templates and workflow depth in its version line, so the ladder a
rule belongs to (and which rule id each level has) is recovered exactly; a domain without that line (a
τ-bench folder) has no structure and gets only the per-rule forms.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from agentgym.envs.policy.generator import (
    DIAL_NAMES,
    TEMPLATES,
    Deny,
    Dials,
    RequestKind,
    Template,
    Write,
    decide,
    parse_version,
    render_policy,
)
from agentgym.envs.policy.internalization.context import PolicyContext
from agentgym.envs.policy.types import PolicyDomain

__all__ = ["Ladder", "PolicyStructure", "describe_owner", "describe_record", "explain", "outcome_answer"]


@dataclass(frozen=True)
class Ladder:
    """One request kind of one template, cut to the policy's workflow depth, with its rule ids."""

    template: Template
    kind: RequestKind
    depth: int
    ids: tuple[str, ...]  # ids[0] is the flat rule, ids[i] the i-th nested condition
    fact_id: str

    @property
    def branches(self) -> tuple[Any, ...]:
        return self.kind.branches[: self.depth - 1]

    def outcome_text(self, level: int) -> str:
        """The policy's words for the outcome at `level` (0: the default), without the final period."""
        return _strip(self.kind.default if level == 0 else self.branches[level - 1].then)

    def intro(self) -> str:
        t, k = self.template, self.kind
        return f"{k.title} (`{k.tool}`): only {t.noun}s whose status is {k.status} qualify."

    def nested_prose(self, ctx: PolicyContext) -> str:
        """"If C1 (rule 9.1), then: if C2 (rule 9.1.1), ...; otherwise, ... Otherwise, ... (rule 9)"."""
        def level(i: int) -> str:
            if i == len(self.branches):
                return f"{self.outcome_text(i)} (rule {self.ids[i]})"
            b = self.branches[i]
            return (f"if {b.condition} (rule {self.ids[i + 1]}), then {level(i + 1)}; "
                    f"otherwise, {self.outcome_text(i)} (rule {self.ids[i]})")
        return f"Under {ctx.label}: {self.intro()} What to do, as nested conditions: {level(0)}"

    def unless_prose(self, ctx: PolicyContext) -> str:
        """The default first, each nested condition as an exception to the one before it."""
        parts = [f"{self.intro()} {_cap(self.outcome_text(0))} (rule {self.ids[0]})"]
        for i, b in enumerate(self.branches, start=1):
            also = "" if i == 1 else "also "
            parts.append(f"unless {also}{b.condition}, in which case {self.outcome_text(i)} (rule {self.ids[i]})")
        return f"{_cap(ctx.label)}: " + ", ".join(parts) + "."

    def decision_list(self, ctx: PolicyContext) -> str:
        """The ladder flattened into checks, most specific first; the first that matches decides."""
        lines = [f"Decision list for {self.kind.title.lower()} (`{self.kind.tool}`) under {ctx.label}; "
                 f"only {self.template.noun}s whose status is {self.kind.status} qualify. Check in order, "
                 "the first match decides:"]
        for n, i in enumerate(range(len(self.branches), -1, -1), start=1):
            when = " and ".join(b.condition for b in self.branches[:i]) or "otherwise"
            lines.append(f"{n}. {when} -> {self.outcome_text(i)} [rule {self.ids[i]}]")
        return "\n".join(lines)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _strip(text: str) -> str:
    return text.strip().rstrip(".")


def describe_record(template: Template, record: dict[str, Any]) -> str:
    """"order ORD-12345 (item: Blue Desk Lamp, price: 45.0, ...)": a record's plain fields."""
    fields = ", ".join(f"{k}: {v}" for k, v in record.items()
                       if k not in ("id", "user_id") and not isinstance(v, (dict, list)))
    return f"{template.noun} {record.get('id', '?')} ({fields})"


def _tier_keys(template: Template) -> list[str]:
    return list(template.user_fields(np.random.default_rng(0)))


def describe_owner(templates: list[Template], user: dict[str, Any]) -> str:
    """The user's fields the policy's conditions read ("membership: gold")."""
    keys = [k for t in templates for k in _tier_keys(t)]
    return ", ".join(f"{k}: {user[k]}" for k in dict.fromkeys(keys) if k in user) or "no tier fields"


def explain(ladder: Ladder, record: dict[str, Any], owner: dict[str, Any]) -> tuple[str, str, Write | Deny]:
    """(which conditions hold and which rule decides, the deciding rule id, the outcome) for a record."""
    decision = decide(ladder.kind, record, owner, ladder.depth)
    checks = [f"rule {ladder.ids[i]} ({ladder.branches[i - 1].condition}) "
              f"{'holds' if i <= decision.taken else 'does not hold'}" for i in range(1, decision.tested + 1)]
    deciding = ladder.ids[decision.taken]
    reasoning = ("; ".join(checks) + "; so" if checks else "No nested condition applies, so") + f" rule {deciding} decides"
    return reasoning, deciding, decision.outcome


@dataclass
class PolicyStructure:
    """A generated domain's templates, workflow depth and rule ids (None for other domains: `of`)."""

    templates: list[Template]
    depth: int
    keys: dict[str, str]

    @classmethod
    def of(cls, domain: PolicyDomain) -> PolicyStructure | None:
        version = parse_version(domain.policy)
        if version is None:
            return None
        names, depth = version
        if not all(n in TEMPLATES for n in names):
            return None
        dials = {k: domain.metadata[k] for k in DIAL_NAMES if isinstance(domain.metadata.get(k), int)}
        dials["workflow_level"] = depth
        templates = [TEMPLATES[n] for n in names]
        return cls(templates, depth, render_policy(templates, Dials(**dials)).keys)

    def ladders(self) -> list[Ladder]:
        out = []
        for t in self.templates:
            for k in t.kinds:
                ids = tuple(self.keys[f"{t.name}/{k.name}/{level}"] for level in range(self.depth))
                out.append(Ladder(t, k, self.depth, ids, self.keys[f"{t.name}/{k.name}/fact"]))
        return out

    def ladder(self, template: str, kind: str) -> Ladder:
        for ladder in self.ladders():
            if ladder.template.name == template and ladder.kind.name == kind:
                return ladder
        raise KeyError(f"no ladder for {template}/{kind}")

    def template(self, name: str) -> Template:
        return TEMPLATES[name]

    def cases(self, ladder: Ladder, data: dict[str, Any], n: int, rng: random.Random) -> list[dict[str, Any]]:
        """Up to `n` records the ladder applies to (by status), one per outcome level first, so that every
        condition is seen holding and failing."""
        table = data.get(ladder.template.table) or {}
        users = data.get("users") or {}
        candidates = sorted(rid for rid, r in table.items()
                            if r.get("status") == ladder.kind.status and r.get("user_id") in users)
        rng.shuffle(candidates)
        by_level: dict[int, list[str]] = {}
        for rid in candidates:
            taken = decide(ladder.kind, table[rid], users[table[rid]["user_id"]], ladder.depth).taken
            by_level.setdefault(taken, []).append(rid)
        chosen = [ids[0] for _, ids in sorted(by_level.items())][:n]
        chosen += [rid for rid in candidates if rid not in chosen][: max(0, n - len(chosen))]
        return [table[rid] for rid in chosen]


def outcome_answer(ladder: Ladder, reasoning: str, outcome: Write | Deny, confirm_id: str | None) -> str:
    """The answer to "what does the policy decide" for one record."""
    if isinstance(outcome, Deny):
        return f"{reasoning}: refuse, replying exactly \"{outcome.phrase}\", and change nothing."
    args = ", ".join(f"{k}={v!r}" for k, v in outcome.kwargs.items())
    confirm = f"after the user confirms (rule {confirm_id}), " if confirm_id else ""
    return (f"{reasoning}: {outcome.summary}. The agent calls {outcome.tool}({args}) {confirm}and tells the user "
            f"{' and '.join(outcome.facts)} (rule {ladder.fact_id}).")

