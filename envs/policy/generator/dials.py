"""The generator's four independent difficulty dials, each 1-4 (CC-Gen's axes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DIAL_NAMES", "Dials"]

DIAL_NAMES = ("env_level", "task_level", "workflow_level", "query_level")
# env level -> (users, records of each template per user)
WORLD_SIZES = {1: (8, 5), 2: (16, 5), 3: (32, 6), 4: (64, 7)}


@dataclass(frozen=True)
class Dials:
    """How hard a generated domain is.

    Attributes:
        env_level: size of the world: users, records per user, tables and tools (1: two tables and the core
            tools; 4: every table, distractor lookups, a calculator and a forbidden write tool).
        task_level: requests per conversation (1-4).
        workflow_level: depth of the nested conditions that decide each request (1: a flat rule; 4: a
            condition inside a condition inside a condition).
        query_level: how the user talks (1: states everything up front; 2: gives facts only when asked;
            3: also describes records instead of giving their ids; 4: also asks for something forbidden).
    """

    env_level: int = 1
    task_level: int = 1
    workflow_level: int = 1
    query_level: int = 1

    def __post_init__(self) -> None:
        for name in DIAL_NAMES:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4:
                raise ValueError(f"{name} must be an integer from 1 to 4, got {value!r}")

    @property
    def world_size(self) -> tuple[int, int]:
        """(number of users, records per user of each template)."""
        return WORLD_SIZES[self.env_level]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
