"""What a domain template is: one kind of business, its records, tools, rules and request kinds.

Four templates ship (`retail`, `airline`, `bank`, `clinic`). A template builds its part of the database from
a seeded `numpy.random.Generator`; the world builder (`world.py`) joins one or more templates over a shared
users table, so a "mixed" domain is the union of all four.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from agentgym.envs.policy.generator.ladder import Record, RequestKind
from agentgym.envs.policy.types import PolicyTool

__all__ = ["NOW", "TODAY", "Forbidden", "Template", "days_before", "hours_between"]

TODAY = date(2025, 6, 15)
NOW = datetime(2025, 6, 15, 9, 0)


def days_before(iso_day: str) -> int:
    """Days from an ISO date to TODAY (positive for the past)."""
    return (TODAY - date.fromisoformat(iso_day)).days


def hours_between(iso_time: str) -> float:
    """Hours from NOW to an ISO date-time (positive for the future)."""
    return (datetime.fromisoformat(iso_time) - NOW) / timedelta(hours=1)


@dataclass(frozen=True)
class Forbidden:
    """A request the policy forbids (query level 4): how the user asks, how the agent must refuse, and the
    write tool a careless agent would misuse (present from env level 2)."""

    keywords: tuple[str, ...]
    request: str
    phrase: str
    rule: str
    trap_tool: str


@dataclass(frozen=True)
class Template:
    """One business's part of a generated domain.

    Attributes:
        name: "retail", "airline", "bank" or "clinic".
        business: the company's name in the policy.
        section: the policy section's heading.
        table: the records table ("orders"); users list their ids under the same key.
        noun: what a record is called ("order"); its id slot is f"{noun}_id".
        id_prefix: record ids look like f"{id_prefix}-12345".
        kinds: the request kinds, each with its ladder.
        forbidden: the forbidden request of query level 4.
        facts: the policy's facts about records (shown in the section's opening).
        user_fields: random tier fields this template adds to every user.
        make_record: a random record (without id, user_id) whose `describe` differs from `taken`.
        describe: how a user refers to a record without its id ("the order with the Blue Desk Lamp").
        tools: the template's tools at an env level (record lookup, writes, trap, extra lookups).
        extra_tables: more tables at an env level (catalogs and the like), given the records made.
    """

    name: str
    business: str
    section: str
    table: str
    noun: str
    id_prefix: str
    kinds: tuple[RequestKind, ...]
    forbidden: Forbidden
    facts: str
    user_fields: Callable[[np.random.Generator], dict[str, Any]]
    make_record: Callable[[np.random.Generator], Record]
    describe: Callable[[Record], str]
    tools: Callable[[int], list[PolicyTool]]
    extra_tables: Callable[[np.random.Generator, int, dict[str, Record]], dict[str, dict[str, Any]]]

    @property
    def id_slot(self) -> str:
        """The user's fact slot for a record id ("order_id")."""
        return f"{self.noun}_id"

    @property
    def lookup_tool(self) -> str:
        """The read tool for one record ("get_order_details")."""
        return f"get_{self.noun}_details"

    def kind(self, name: str) -> RequestKind:
        for k in self.kinds:
            if k.name == name:
                return k
        raise KeyError(f"{self.name} has no request kind {name!r}")
