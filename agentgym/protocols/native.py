"""Native OpenAI tool calling: schemas go in `tools=`, calls come back in `message.tool_calls`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentgym.messages import Message, ToolCall
from agentgym.protocols.base import ParsedAction, ToolOutput, ToolProtocol, call_id


class NativeProtocol(ToolProtocol):
    """Tool calls are structured fields of the assistant message; results are `tool` role messages."""

    name = "native"
    native = True

    def parse(self, message: Message, *, turn: int = 0) -> ParsedAction:
        calls: list[ToolCall] = []
        errors: list[str] = []
        for i, tc in enumerate(message.tool_calls):
            if not tc.name:
                errors.append(f"tool call #{i + 1} has no function name")
                continue
            if not tc.id:
                tc = ToolCall(id=call_id(turn, i), name=tc.name, arguments=tc.arguments)
            calls.append(tc)
        return ParsedAction(message=message, calls=calls, errors=errors)

    def format_results(self, outputs: Sequence[ToolOutput]) -> list[dict[str, Any]]:
        return [
            {"role": "tool", "tool_call_id": o.call.id, "name": o.call.name, "content": o.content} for o in outputs
        ]

    def encode_calls(self, message: Message) -> str:
        return (message.content or "") + "".join(
            json.dumps({"name": tc.name, "arguments": tc.arguments}) for tc in message.tool_calls
        )
