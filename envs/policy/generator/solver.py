"""The policy's decision procedure, executed on the database: a task's gold actions and outputs.

`solve` does what a policy-following agent does for each request, reading the database directly: it
authenticates the user, looks the record up (scanning the user's records when only a description is
known), checks ownership, decides with the ladder at the policy's depth, and makes the write when the user
accepts it. Writes run through the domain's own tools on a working copy, so an invalid gold call fails
generation instead of producing a task nobody can solve.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass, field

from agentgym.envs.policy.execution import is_error_output
from agentgym.envs.policy.generator.ladder import Decision, Deny, Write, decide
from agentgym.envs.policy.generator.policy_doc import MISMATCH_PHRASE
from agentgym.envs.policy.generator.world import World
from agentgym.envs.policy.types import Action, Database, ToolKind

__all__ = ["GenerationError", "RequestSpec", "Resolution", "Solution", "TaskSpec", "apply", "solve"]


class GenerationError(RuntimeError):
    """The generator made a task its own tools cannot carry out (a bug, never the agent's fault)."""


@dataclass(frozen=True)
class RequestSpec:
    """One request of a conversation: a template's request kind on a record, or its forbidden request.

    `mismatch`: the record belongs to another user (the correct answer is to refuse).
    """

    template: str
    kind: str | None
    record_id: str | None
    mismatch: bool = False

    @property
    def forbidden(self) -> bool:
        return self.kind is None


@dataclass
class TaskSpec:
    """Who asks, how they authenticate ("email" or "name_zip"), and their requests in order."""

    user_id: str
    identity: str
    requests: list[RequestSpec]
    query_level: int


@dataclass
class Resolution:
    """What one request came to: the decision (None when refused before deciding), the write made (None
    if none), the strings the agent had to say, and the summary of a proposed write."""

    decision: Decision | None
    write: Action | None
    outputs: list[str]
    summary: str = ""


@dataclass
class Solution:
    """Every tool call in order (reads and writes), the required outputs, and each request's resolution."""

    actions: list[Action] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)

    @property
    def writes(self) -> list[Action]:
        return [r.write for r in self.resolutions if r.write is not None]


def _own(world: World, data: Database, kwargs: dict) -> None:
    """Copy-on-write: give `data` its own copy of every record a call's arguments name, so that a write
    changes the working database and never the world's (cheaper than copying the whole database)."""
    tables = ["users", *(t.table for t in world.templates)]
    for value in kwargs.values():
        for table in tables:
            if isinstance(value, str) and value in data[table]:
                data[table] = dict(data[table])
                data[table][value] = copy.deepcopy(data[table][value])


def apply(world: World, data: Database, action: Action) -> Database:
    """Run one call with the domain's tool on `data` (copy-on-write); a refused call is a `GenerationError`."""
    tool = next((t for t in world.tools if t.name == action.name), None)
    if tool is None:
        raise GenerationError(f"no tool {action.name!r}")
    if tool.kind is not ToolKind.READ:
        data = dict(data)
        _own(world, data, action.kwargs)
    try:
        output = tool.invoke(data, **action.kwargs)
    except ValueError as e:
        raise GenerationError(f"gold call {action.name}({action.kwargs}) failed: {e}") from None
    if is_error_output(output):
        raise GenerationError(f"gold call {action.name}({action.kwargs}) failed: {output}")
    return data


def _auth_actions(world: World, spec: TaskSpec) -> list[Action]:
    user = world.data["users"][spec.user_id]
    if spec.identity == "email":
        find = Action("find_user_id_by_email", {"email": user["email"]})
    else:
        name = user["name"]
        find = Action("find_user_id_by_name_zip", {"first_name": name["first_name"], "last_name": name["last_name"],
                                                   "zip": user["address"]["zip"]})
    return [find, Action("get_user_details", {"user_id": spec.user_id})]


def solve(world: World, spec: TaskSpec, depth: int, accepts: Collection[str] | None = None) -> Solution:
    """Gold for `spec` under a policy of workflow `depth`.

    Args:
        accepts: write tools the user agrees to when asked to confirm (None: all of them).
    """
    data: Database = dict(world.data)
    out = Solution()
    authenticated = False
    for req in spec.requests:
        template = world.template(req.template)
        if req.forbidden:
            out.resolutions.append(Resolution(None, None, [template.forbidden.phrase]))
            continue
        if not authenticated:
            for action in _auth_actions(world, spec):
                data = apply(world, data, action)
                out.actions.append(action)
            authenticated = True
        owned = data["users"][spec.user_id][template.table]
        # with only a description, the user's records are read in order until the described one
        ids = [req.record_id] if spec.query_level <= 2 else owned[: owned.index(req.record_id) + 1]
        for rid in ids:
            lookup = Action(template.lookup_tool, {template.id_slot: rid})
            data = apply(world, data, lookup)
            out.actions.append(lookup)
        record = data[template.table][req.record_id]
        if record["user_id"] != spec.user_id:
            out.resolutions.append(Resolution(None, None, [MISMATCH_PHRASE]))
            continue
        decision = decide(template.kind(req.kind), record, data["users"][spec.user_id], depth)
        outcome = decision.outcome
        if isinstance(outcome, Deny):
            out.resolutions.append(Resolution(decision, None, [outcome.phrase]))
            continue
        assert isinstance(outcome, Write)
        write = None
        if accepts is None or outcome.tool in accepts:
            write = Action(outcome.tool, dict(outcome.kwargs))
            data = apply(world, data, write)
            out.actions.append(write)
        out.resolutions.append(Resolution(decision, write, list(outcome.facts), outcome.summary))
    for res in out.resolutions:
        out.outputs += [o for o in res.outputs if o not in out.outputs]
    return out
