"""Tool-calling protocols: native OpenAI `tool_calls`, Hermes `<tool_call>` JSON, and tags."""

from __future__ import annotations

from agentgym.protocols.base import ParsedAction, ToolOutput, ToolProtocol, call_id
from agentgym.protocols.blocks import ActionTagProtocol, Block, BlockScan, TurnCheck, scan_blocks
from agentgym.protocols.hermes import HermesProtocol
from agentgym.protocols.native import NativeProtocol
from agentgym.protocols.tags import TagProtocol, primary_argument
from agentgym.protocols.tapo import TAPOProtocol, well_formed_response
from agentgym.protocols.workspace import WorkspaceProtocol

__all__ = [
    "ActionTagProtocol",
    "Block",
    "BlockScan",
    "HermesProtocol",
    "NativeProtocol",
    "ParsedAction",
    "TAPOProtocol",
    "TagProtocol",
    "ToolOutput",
    "ToolProtocol",
    "TurnCheck",
    "WorkspaceProtocol",
    "call_id",
    "get_protocol",
    "primary_argument",
    "scan_blocks",
    "well_formed_response",
]


def get_protocol(name: str | ToolProtocol, **kwargs: object) -> ToolProtocol:
    """Protocol by name: "native", "hermes", "tags" or "tapo" (kwargs go to its constructor)."""
    if isinstance(name, ToolProtocol):
        return name
    table: dict[str, type[ToolProtocol]] = {"native": NativeProtocol, "hermes": HermesProtocol, "tags": TagProtocol,
                                            "tapo": TAPOProtocol}
    if name not in table:
        raise ValueError(f"unknown tool protocol {name!r}; choose one of {sorted(table)}")
    return table[name](**kwargs)  # type: ignore[arg-type]
