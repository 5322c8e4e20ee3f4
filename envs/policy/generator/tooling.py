"""Building τ-bench-style tools: an OpenAI schema plus `invoke(data, **kwargs)` that checks its input.

Every tool refuses bad input with `ValueError` (unknown or missing arguments, unknown ids, a status that
does not allow the write, an amount above what was paid); the env turns that into an error the agent sees
and leaves the database unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentgym.envs.policy.types import PolicyTool, ToolKind

__all__ = ["Param", "common_tools", "find_record", "make_tool", "to_json"]

_JSON_TYPES = {"string": str, "number": (int, float), "integer": int, "boolean": bool}


@dataclass(frozen=True)
class Param:
    """One tool argument: name, JSON type, description, and the allowed values (if a closed set)."""

    name: str
    type: str
    description: str
    enum: tuple[Any, ...] | None = None


def to_json(value: Any) -> str:
    """What read tools return: the record as JSON text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def make_tool(name: str, description: str, params: list[Param], fn: Callable[..., Any],
              kind: ToolKind = ToolKind.READ) -> PolicyTool:
    """A `PolicyTool` whose `invoke(data, **kwargs)` checks names, presence, types and enums, then calls
    `fn(data, **kwargs)`."""
    properties: dict[str, Any] = {}
    for p in params:
        prop: dict[str, Any] = {"type": p.type, "description": p.description}
        if p.enum is not None:
            prop["enum"] = list(p.enum)
        properties[p.name] = prop
    schema = {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": [p.name for p in params]}}}
    by_name = {p.name: p for p in params}

    def invoke(data: dict[str, Any], **kwargs: Any) -> Any:
        unknown = sorted(set(kwargs) - set(by_name))
        missing = [p.name for p in params if p.name not in kwargs]
        if unknown or missing:
            parts = [f"unexpected argument(s) {unknown}"] if unknown else []
            parts += [f"missing argument(s) {missing}"] if missing else []
            raise ValueError(f"{name}: " + "; ".join(parts))
        for key, value in kwargs.items():
            p = by_name[key]
            expected = _JSON_TYPES.get(p.type)
            # JSON booleans are Python bools, which are also ints: only a "boolean" parameter takes one
            wrong_bool = isinstance(value, bool) != (p.type == "boolean")
            if expected is not None and (wrong_bool or not isinstance(value, expected)):
                raise ValueError(f"{name}: argument '{key}' must be a {p.type}")
            if p.enum is not None and value not in p.enum:
                raise ValueError(f"{name}: argument '{key}' must be one of {list(p.enum)}")
        return fn(data, **kwargs)

    invoke.__name__ = name
    return PolicyTool(name=name, invoke=invoke, schema=schema, kind=kind)


def find_record(data: dict[str, Any], table: str, record_id: str, noun: str) -> dict[str, Any]:
    """`data[table][record_id]`, or ValueError naming what was not found."""
    record = data.get(table, {}).get(record_id)
    if record is None:
        raise ValueError(f"{noun} {record_id} not found")
    return record


def _find_by_email(data: dict[str, Any], email: str) -> str:
    for uid, user in data["users"].items():
        if user["email"].lower() == email.strip().lower():
            return uid
    raise ValueError("user not found")


def _find_by_name_zip(data: dict[str, Any], first_name: str, last_name: str, zip: str) -> str:
    for uid, user in data["users"].items():
        name = user["name"]
        if (name["first_name"].lower(), name["last_name"].lower(), user["address"]["zip"]) == (
                first_name.strip().lower(), last_name.strip().lower(), zip.strip()):
            return uid
    raise ValueError("user not found")


def _get_user(data: dict[str, Any], user_id: str) -> str:
    return to_json(find_record(data, "users", user_id, "user"))


def _transfer(data: dict[str, Any], summary: str) -> str:
    return "Transfer successful"


def _calculate(data: dict[str, Any], expression: str) -> str:
    if not expression or any(c not in "0123456789+-*/(). " for c in expression):
        raise ValueError("calculate: only numbers, + - * / ( ) and spaces are allowed")
    try:
        value = eval(expression, {"__builtins__": {}}, {})  # digits and operators only, checked above
    except (SyntaxError, ZeroDivisionError) as e:
        raise ValueError(f"calculate: {e}") from None
    return str(round(float(value), 2))


def common_tools(env_level: int) -> list[PolicyTool]:
    """The tools every domain has: authentication lookups, the user's profile, the transfer, and (env level
    3+) a calculator. Looking a user up by name and zip comes at env level 2."""
    tools = [
        make_tool("find_user_id_by_email", "Find a user's id by their email address (authentication).",
                  [Param("email", "string", "The user's email, such as 'ana.silva4821@example.com'.")], _find_by_email),
        make_tool("get_user_details", "Get a user's profile: name, email, address, tiers and their record ids.",
                  [Param("user_id", "string", "The user's id, such as 'ana_silva_4821'.")], _get_user),
        make_tool("transfer_to_human_agents",
                  "Transfer the user to a human agent with a summary; only when the policy allows nothing else.",
                  [Param("summary", "string", "A summary of the user's issue.")], _transfer, ToolKind.TERMINATE),
    ]
    if env_level >= 2:
        tools.insert(1, make_tool(
            "find_user_id_by_name_zip", "Find a user's id by first name, last name and zip code (authentication).",
            [Param("first_name", "string", "First name, such as 'Ana'."),
             Param("last_name", "string", "Last name, such as 'Silva'."),
             Param("zip", "string", "Zip code, such as '10001'.")], _find_by_name_zip))
    if env_level >= 3:
        tools.append(make_tool("calculate", "Evaluate an arithmetic expression, such as '120 * 0.9 - 15'.",
                               [Param("expression", "string", "Numbers and + - * / ( ) only.")], _calculate))
    return tools
