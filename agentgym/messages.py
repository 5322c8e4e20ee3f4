"""OpenAI-compatible chat messages.

`Message` and `ToolCall` are slotted dataclasses (cheap to build on the hot path of a rollout) that
round-trip the OpenAI chat format through `to_openai()` / `from_openai()`. Environments exchange plain
OpenAI dicts with agents; these types are what the library uses internally and at typed boundaries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset({"system", "user", "assistant", "tool", "developer"})


@dataclass(slots=True)
class ToolCall:
    """A request from the model to run one tool.

    `arguments` is kept as the raw JSON string the model produced (as in the OpenAI API) so that a
    malformed payload survives until the environment turns it into an observation.
    """

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """Decode `arguments`; raises `ValueError` when it is not a JSON object."""
        if not self.arguments.strip():
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError(f"tool arguments must be a JSON object, got {type(value).__name__}")
        return value

    def to_openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    @classmethod
    def from_openai(cls, data: dict[str, Any]) -> ToolCall:
        fn = data.get("function") or {}
        args = fn.get("arguments", "{}")
        if not isinstance(args, str):
            args = json.dumps(args)
        return cls(id=str(data.get("id") or ""), name=str(fn.get("name") or ""), arguments=args)


@dataclass(slots=True)
class Message:
    """One chat message in OpenAI format."""

    role: str
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    reasoning_content: str | None = None

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [tc.to_openai() for tc in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        if self.reasoning_content is not None:
            out["reasoning_content"] = self.reasoning_content
        return out

    @classmethod
    def from_openai(cls, data: dict[str, Any] | Message) -> Message:
        """Build from an OpenAI dict (or pass a `Message` through). Raises `ValueError` on a bad role."""
        if isinstance(data, Message):
            return data
        if not isinstance(data, dict):
            raise ValueError(f"a message must be a dict, got {type(data).__name__}")
        role = data.get("role")
        if role not in ROLES:
            raise ValueError(f"unknown message role {role!r}")
        content = data.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return cls(
            role=role,
            content=content,
            tool_calls=[ToolCall.from_openai(tc) for tc in data.get("tool_calls") or []],
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
            reasoning_content=data.get("reasoning_content"),
        )

    @property
    def text(self) -> str:
        return self.content or ""


def system(content: str) -> dict[str, Any]:
    return {"role": "system", "content": content}


def user(content: str) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: str | None, tool_calls: list[ToolCall] | None = None) -> dict[str, Any]:
    return Message("assistant", content, tool_calls or []).to_openai()


def tool_result(tool_call_id: str, content: str, name: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "tool", "tool_call_id": tool_call_id, "content": content}
    if name is not None:
        msg["name"] = name
    return msg
