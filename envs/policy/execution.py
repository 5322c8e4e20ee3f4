"""Running a domain tool against a database, all or nothing, and replaying gold actions.

A call that changes the database runs on a deep copy that replaces the database only when the call
succeeds; a call that raises, or returns text starting with "Error" (τ-bench's convention for a refused
call), leaves the database as it was. Read tools run on the database itself (they do not change it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentgym.envs.policy.types import Action, Database, PolicyTool, ToolKind

__all__ = ["CallResult", "is_error_output", "replay_actions", "run_tool"]


def is_error_output(output: Any) -> bool:
    """Whether a tool's return value is a refusal ("Error: ..."), as τ-bench's tools return them."""
    return isinstance(output, str) and output.lstrip().lower().startswith("error")


@dataclass
class CallResult:
    """The outcome of one call: its output, the database after it, and the exception it raised (if any)."""

    output: Any
    data: Database
    exception: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.exception is None and not is_error_output(self.output)


def run_tool(tool: PolicyTool, data: Database, kwargs: Mapping[str, Any]) -> CallResult:
    """Call `tool.invoke(data=..., **kwargs)`; the returned database is `data` itself unless a non-read
    call succeeded, in which case it is the changed copy."""
    work = data if tool.kind is ToolKind.READ else copy.deepcopy(data)
    try:
        output = tool.invoke(data=work, **dict(kwargs))
    except Exception as e:
        return CallResult(None, data, e)
    result = CallResult(output, work)
    if not result.ok:
        result.data = data
    return result


def replay_actions(tools: Iterable[PolicyTool], data: Database, actions: Iterable[Action]) -> Database:
    """The database after running `actions` on a deep copy of `data` (τ-bench's gold replay): terminate
    tools and names that are not tools (e.g. "respond") are skipped; failed calls change nothing."""
    by_name = {t.name: t for t in tools}
    db = copy.deepcopy(data)
    for action in actions:
        tool = by_name.get(action.name)
        if tool is None or tool.kind is ToolKind.TERMINATE:
            continue
        db = run_tool(tool, db, action.kwargs).data
    return db
