"""The database of a generated domain: a shared users table plus each template's records and extra tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from agentgym.envs.policy.generator.dials import Dials
from agentgym.envs.policy.generator.template import Template
from agentgym.envs.policy.generator.tooling import common_tools
from agentgym.envs.policy.types import Database, PolicyTool

__all__ = ["World", "build_world"]

FIRST = ["Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam", "Mia",
         "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yara"]
LAST = ["Silva", "Chen", "Okafor", "Novak", "Haddad", "Garcia", "Kim", "Rossi", "Patel", "Brown", "Sato", "Mueller",
        "Ivanova", "Dubois", "Nguyen", "Larsen"]


@dataclass
class World:
    """A generated database with the templates it was made from and every tool over it."""

    templates: tuple[Template, ...]
    dials: Dials
    data: Database
    tools: list[PolicyTool]

    def template(self, name: str) -> Template:
        for t in self.templates:
            if t.name == name:
                return t
        raise KeyError(f"no template {name!r} in this world")

    def owner_of(self, template: Template, record_id: str) -> dict[str, Any]:
        """The user who owns a record."""
        return self.data["users"][self.data[template.table][record_id]["user_id"]]


def _users(rng: np.random.Generator, n: int, templates: Sequence[Template]) -> dict[str, dict[str, Any]]:
    users: dict[str, dict[str, Any]] = {}
    names: set[tuple[str, str]] = set()
    while len(users) < n:
        first, last = str(rng.choice(FIRST)), str(rng.choice(LAST))
        if (first, last) in names:
            continue
        names.add((first, last))
        number = int(rng.integers(1000, 9999))
        uid = f"{first.lower()}_{last.lower()}_{number}"
        user: dict[str, Any] = {"user_id": uid, "name": {"first_name": first, "last_name": last},
                                "email": f"{first.lower()}.{last.lower()}{number}@example.com",
                                "address": {"zip": str(int(rng.integers(10000, 99999)))}}
        for t in templates:
            user.update(t.user_fields(rng))
            user[t.table] = []
        users[uid] = user
    return users


def _records(rng: np.random.Generator, template: Template, users: dict[str, dict[str, Any]], per_user: int
             ) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for uid, user in users.items():
        seen: set[str] = set()
        for _ in range(per_user):
            record = template.make_record(rng)
            for _retry in range(30):
                if template.describe(record) not in seen:
                    break
                record = template.make_record(rng)
            else:
                continue
            seen.add(template.describe(record))
            rid = f"{template.id_prefix}-{int(rng.integers(10000, 99999))}"
            while rid in table:
                rid = f"{template.id_prefix}-{int(rng.integers(10000, 99999))}"
            table[rid] = {"id": rid, "user_id": uid, **record}
            user[template.table].append(rid)
    return table


def build_world(templates: Sequence[Template], dials: Dials, rng: np.random.Generator) -> World:
    """Users (names, emails, zips, each template's tiers), each template's records (distinct descriptions
    per user), the extra tables of the env level, and the tools: the common ones then each template's."""
    n_users, per_user = dials.world_size
    users = _users(rng, n_users, templates)
    data: Database = {"users": users}
    tools = common_tools(dials.env_level)
    for t in templates:
        data[t.table] = _records(rng, t, users, per_user)
        data.update(t.extra_tables(rng, dials.env_level, data[t.table]))
        tools += t.tools(dials.env_level)
    return World(tuple(templates), dials, data, tools)
