"""Nested conditional rules ("ladders") and the decisions they produce.

A request kind's policy is a ladder: a default outcome (the flat rule) and up to three conditions, each
one nested inside the previous. At workflow depth `d` the policy reads

    depth 1: O0
    depth 2: if C1: O1 else O0
    depth 3: if C1: (if C2: O2 else O1) else O0
    depth 4: if C1: (if C2: (if C3: O3 else O2) else O1) else O0

so `decide` walks the conditions while they hold. An outcome is a write (a tool call with the facts the agent
must state) or a refusal with the phrase the policy prescribes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]
User = dict[str, Any]


def money(value: float) -> float:
    """An amount rounded to cents (what the write tools store)."""
    return round(float(value) + 1e-9, 2)


def dollars(value: float) -> str:
    """An amount as the policy wants it said: `$45.00` (no thousands separator)."""
    return f"${money(value):.2f}"


@dataclass(frozen=True)
class Write:
    """Make this write: `tool(**kwargs)`, and tell the user `facts` (e.g. the refund amount)."""

    tool: str
    kwargs: dict[str, Any]
    facts: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class Deny:
    """Refuse the request with the policy's exact `phrase`; nothing is written."""

    phrase: str


Outcome = Write | Deny
OutcomeFn = Callable[[Record, User], Outcome]


@dataclass(frozen=True)
class Branch:
    """One nested condition: when `test(record, user)` holds (and every outer one did), `outcome` applies
    unless a deeper condition also holds. `condition` and `then` are the policy's words for both."""

    condition: str
    test: Callable[[Record, User], bool]
    then: str
    outcome: OutcomeFn


@dataclass(frozen=True)
class RequestKind:
    """Something a user can ask for: which records it applies to, the write tool, and the ladder.

    Attributes:
        name: short id ("return").
        title: the policy section's heading ("Returns").
        tool: the write tool the ladder's writes use.
        status: the record status the request needs (the write tool refuses others).
        keywords: phrases that identify the request in a user's message (all must appear).
        ask: the request as a user says it; `{ref}` is the record's reference ("order ORD-12345").
        vague: the request with no reference at all ("I'd like to return something").
        default: the flat rule's words; `base` its outcome.
        branches: the nested conditions, outermost first (at most 3).
        fact: the factual rule: what the agent must tell the user.
    """

    name: str
    title: str
    tool: str
    status: str
    keywords: tuple[str, ...]
    ask: str
    vague: str
    default: str
    base: OutcomeFn
    branches: tuple[Branch, ...]
    fact: str


@dataclass(frozen=True)
class Decision:
    """What the policy decides at some depth: the outcome, how many conditions held, and how many were
    looked at (the rules the decision exercised)."""

    outcome: Outcome
    taken: int
    tested: int = field(default=0)


def decide(kind: RequestKind, record: Record, user: User, depth: int) -> Decision:
    """Run `kind`'s ladder to `depth` (1 = the flat rule only) on a record and its owner."""
    outcome, taken, tested = kind.base(record, user), 0, 0
    for level, branch in enumerate(kind.branches[: max(0, depth - 1)], start=1):
        tested = level
        if not branch.test(record, user):
            break
        outcome, taken = branch.outcome(record, user), level
    return Decision(outcome, taken, tested)


def outer_depth(depth: int) -> int:
    """The depth an agent that ignores nested conditions decides at: only the outermost condition."""
    return min(depth, 2)
