"""Hermes-style text tool calling: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`.

This is the format of Qwen2.5/Hermes chat templates; it works with any instruct model when the tools are
described in the system prompt. The parser scans for the tags and decodes the JSON body with Python's JSON
decoder (not a regex), so nested braces and strings containing tags are handled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentgym.messages import Message, ToolCall
from agentgym.protocols.base import ParsedAction, ToolOutput, ToolProtocol, call_id
from agentgym.tool import Tool

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_decoder = json.JSONDecoder()


def _decode_call(body: str) -> tuple[str, str]:
    """Return (name, arguments-json) or raise ValueError with a message the model can act on."""
    text = body.strip()
    if not text:
        raise ValueError("empty <tool_call> block")
    try:
        obj, end = _decoder.raw_decode(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"the <tool_call> body is not valid JSON ({e.msg} at position {e.pos})") from None
    if text[end:].strip():
        raise ValueError("unexpected text after the JSON object inside <tool_call>")
    if not isinstance(obj, dict):
        raise ValueError('the <tool_call> body must be a JSON object like {"name": ..., "arguments": {...}}')
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError('the <tool_call> object needs a string "name"')
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # some models double-encode
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            raise ValueError(f'"arguments" of {name!r} is a string that is not JSON') from None
    if not isinstance(args, dict):
        raise ValueError(f'"arguments" of {name!r} must be a JSON object')
    return name, json.dumps(args, ensure_ascii=False)


class HermesProtocol(ToolProtocol):
    """`<tool_call>` JSON blocks in the assistant text; results in `<tool_response>` blocks.

    Args:
        result_role: role of the message carrying tool results ("user" for templates without a tool role).
        allow_unclosed: accept a final block whose closing tag is missing (engines that strip stop strings).
    """

    name = "hermes"

    def __init__(self, result_role: str = "user", allow_unclosed: bool = True) -> None:
        self.result_role = result_role
        self.allow_unclosed = allow_unclosed

    def render_tools(self, tools: Sequence[Tool]) -> str | None:
        if not tools:
            return None
        lines = "\n".join(json.dumps(t.schema, ensure_ascii=False) for t in tools)
        return (
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n"
            f"<tools>\n{lines}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n"
            '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
        )

    def stop_sequences(self, tools: Sequence[Tool]) -> list[str]:
        return [CLOSE] if tools else []

    def parse(self, message: Message, *, turn: int = 0) -> ParsedAction:
        text = message.content or ""
        calls: list[ToolCall] = list(message.tool_calls)  # tolerate native calls passed through
        errors: list[str] = []
        pos = 0
        index = len(calls)
        while True:
            start = text.find(OPEN, pos)
            if start < 0:
                break
            body_start = start + len(OPEN)
            end = text.find(CLOSE, body_start)
            if end < 0:
                if not self.allow_unclosed:
                    errors.append("a <tool_call> block is not closed with </tool_call>")
                    break
                body, pos = text[body_start:], len(text)
            else:
                body, pos = text[body_start:end], end + len(CLOSE)
            try:
                name, args = _decode_call(body)
            except ValueError as e:
                errors.append(str(e))
            else:
                calls.append(ToolCall(id=call_id(turn, index), name=name, arguments=args))
            index += 1
        return ParsedAction(message=message, calls=calls, errors=errors)

    def format_results(self, outputs: Sequence[ToolOutput]) -> list[dict[str, Any]]:
        if not outputs:
            return []
        body = "\n".join(f"<tool_response>\n{o.content}\n</tool_response>" for o in outputs)
        if self.result_role == "tool":
            return [{"role": "tool", "tool_call_id": o.call.id, "name": o.call.name,
                     "content": f"<tool_response>\n{o.content}\n</tool_response>"} for o in outputs]
        return [{"role": self.result_role, "content": body}]

    def encode_calls(self, message: Message) -> str:
        parts = [message.content] if message.content else []
        for tc in message.tool_calls:
            try:
                args: Any = json.loads(tc.arguments) if tc.arguments.strip() else {}
            except json.JSONDecodeError:
                args = tc.arguments
            parts.append(f"{OPEN}\n{json.dumps({'name': tc.name, 'arguments': args}, ensure_ascii=False)}\n{CLOSE}")
        return "\n".join(parts)
