"""Typed records an env hands the episode loop, and the loop hands trainers on the `Trajectory`.

`info` stays a dict (Gymnasium's contract), but what trainers rely on travels as one typed record per
concern under one key each, never as loose keys with fallbacks between names:

- `info["task"]`: a `TaskRecord`, at reset: the task and its gold answers (never shown to the agent);
- `info["format"]`: a `FormatVerdict`, on the last step, from envs that judge the response's format
  (`TAPOWrapper`); absent where no format is imposed.

The loop moves both onto `Trajectory.task` / `Trajectory.format`; reward stages read them there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TASK_INFO = "task"
FORMAT_INFO = "format"


@dataclass(frozen=True)
class TaskRecord:
    """What a trainer may know about an episode's task.

    Attributes:
        id: the task id.
        gold_answers: the accepted answers (aliases for a fact, one value for a number); empty when the
            task is graded otherwise (hidden tests, a database state).
        kind: how answers are compared when a reward stage re-grades ("math", "fact", "calc"), or None.
    """

    id: str
    gold_answers: tuple[str, ...] = ()
    kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "gold_answers": list(self.gold_answers), "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRecord:
        return cls(str(data["id"]), tuple(str(a) for a in data.get("gold_answers") or ()), data.get("kind"))


@dataclass(frozen=True)
class FormatVerdict:
    """An env's judgement of the whole response's format.

    Attributes:
        ok: the response follows the required format.
        response: the response as a reward function reads it (turn texts with tool results in between).
        problems: why it is not well-formed (empty when `ok`).
    """

    ok: bool
    response: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "response": self.response, "problems": list(self.problems)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FormatVerdict:
        return cls(bool(data["ok"]), str(data.get("response") or ""), tuple(data.get("problems") or ()))
