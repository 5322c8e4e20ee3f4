"""Tool-calling protocols: native OpenAI `tool_calls`, Hermes `<tool_call>` JSON, and tags."""

from __future__ import annotations

from agentgym.protocols.base import ParsedAction, ToolOutput, ToolProtocol, call_id
from agentgym.protocols.hermes import HermesProtocol
from agentgym.protocols.native import NativeProtocol
from agentgym.protocols.tags import TagProtocol, primary_argument

__all__ = [
    "HermesProtocol",
    "NativeProtocol",
    "ParsedAction",
    "TagProtocol",
    "ToolOutput",
    "ToolProtocol",
    "call_id",
    "get_protocol",
    "primary_argument",
]


def get_protocol(name: str | ToolProtocol, **kwargs: object) -> ToolProtocol:
    """Protocol by name: "native", "hermes" or "tags" (kwargs go to its constructor)."""
    if isinstance(name, ToolProtocol):
        return name
    table: dict[str, type[ToolProtocol]] = {"native": NativeProtocol, "hermes": HermesProtocol, "tags": TagProtocol}
    if name not in table:
        raise ValueError(f"unknown tool protocol {name!r}; choose one of {sorted(table)}")
    return table[name](**kwargs)  # type: ignore[arg-type]
