"""Tag tool calling: `<python>print(1)</python>`, `<search>query</search>`, `<answer>42</answer>`.

Each tool gets a tag (its own name unless mapped otherwise). The body of the tag is the tool's single
text argument; a tool with several arguments takes a JSON object as its body. Only known tags are
recognised, so free text such as `<think>` or HTML inside code passes through untouched. Results come
back wrapped in one result tag (`<output>`, `<information>`, `<response>` ...) in a user message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from agentgym.messages import Message, ToolCall
from agentgym.protocols.base import ParsedAction, ToolOutput, ToolProtocol, call_id
from agentgym.tool import Tool


def primary_argument(tool: Tool) -> str | None:
    """The argument a tag body maps to: the only parameter, or the only required one."""
    props = list(tool.parameters.get("properties", {}))
    if len(props) == 1:
        return props[0]
    required = tool.required
    return required[0] if len(required) == 1 else None


class TagProtocol(ToolProtocol):
    """Tools called by XML-like tags in the assistant text.

    Args:
        tools: the tools the tags refer to (needed to map a tag body to an argument).
        tags: optional tag -> tool-name mapping (default: each tool's own name).
        result_tag: the tag wrapping tool output in the next user message.
        result_role: the role of that message.
        allow_unclosed: accept a trailing unclosed tag (engines that strip the stop string).
    """

    name = "tags"

    def __init__(
        self,
        tools: Sequence[Tool] = (),
        tags: Mapping[str, str] | None = None,
        result_tag: str = "output",
        result_role: str = "user",
        allow_unclosed: bool = True,
    ) -> None:
        self.result_tag = result_tag
        self.result_role = result_role
        self.allow_unclosed = allow_unclosed
        self._tools: dict[str, Tool] = {}
        self.tag_to_tool: dict[str, str] = dict(tags or {})
        self.bind(tools)

    def bind(self, tools: Sequence[Tool]) -> TagProtocol:
        """Attach the tool set (called by the env when the protocol was built without tools)."""
        self._tools = {t.name: t for t in tools}
        for t in tools:
            if t.name not in self.tag_to_tool.values():
                self.tag_to_tool[t.name] = t.name
        self._opens = {tag: (f"<{tag}>", f"</{tag}>") for tag in self.tag_to_tool}
        return self

    def _argument_for(self, tool_name: str) -> str | None:
        t = self._tools.get(tool_name)
        return primary_argument(t) if t is not None else None

    def render_tools(self, tools: Sequence[Tool]) -> str | None:
        if not tools:
            return None
        by_tool = {v: k for k, v in self.tag_to_tool.items()}
        lines = ["# Tools", "", "Call a tool by writing its tag; the result comes back inside "
                 f"<{self.result_tag}></{self.result_tag}>.", ""]
        for t in tools:
            tag = by_tool.get(t.name, t.name)
            arg = primary_argument(t)
            body = arg if arg else "JSON object of arguments: " + json.dumps(t.parameters.get("properties", {}))
            lines.append(f"<{tag}>{body}</{tag}>: {t.description}")
        return "\n".join(lines)

    def stop_sequences(self, tools: Sequence[Tool]) -> list[str]:
        by_tool = {v: k for k, v in self.tag_to_tool.items()}
        return [f"</{by_tool.get(t.name, t.name)}>" for t in tools]

    def _next_open(self, text: str, pos: int) -> tuple[int, str]:
        best, best_tag = -1, ""
        for tag, (open_tag, _) in self._opens.items():
            i = text.find(open_tag, pos)
            if i >= 0 and (best < 0 or i < best):
                best, best_tag = i, tag
        return best, best_tag

    def parse(self, message: Message, *, turn: int = 0) -> ParsedAction:
        text = message.content or ""
        calls: list[ToolCall] = []
        errors: list[str] = []
        pos = 0
        while True:
            start, tag = self._next_open(text, pos)
            if start < 0:
                break
            open_tag, close_tag = self._opens[tag]
            body_start = start + len(open_tag)
            end = text.find(close_tag, body_start)
            if end < 0:
                if not self.allow_unclosed:
                    errors.append(f"the {open_tag} tag is not closed with {close_tag}")
                    break
                body, pos = text[body_start:], len(text)
            else:
                body, pos = text[body_start:end], end + len(close_tag)
            call = self.call_from_body(tag, body, turn, len(calls))
            if isinstance(call, str):
                errors.append(call)
            else:
                calls.append(call)
        return ParsedAction(message=message, calls=calls, errors=errors)

    def call_from_body(self, tag: str, body: str, turn: int, index: int) -> ToolCall | str:
        """The call a `<tag>body</tag>` block makes, or the error that stops it."""
        tool_name = self.tag_to_tool[tag]
        arg = self._argument_for(tool_name)
        if arg is not None:
            arguments = json.dumps({arg: body.strip("\n")}, ensure_ascii=False)
        else:
            try:
                obj = json.loads(body) if body.strip() else {}
            except json.JSONDecodeError:
                return f"<{tag}> takes a JSON object of arguments; its body is not valid JSON"
            if not isinstance(obj, dict):
                return f"<{tag}> takes a JSON object of arguments"
            arguments = json.dumps(obj, ensure_ascii=False)
        return ToolCall(id=call_id(turn, index), name=tool_name, arguments=arguments)

    def format_results(self, outputs: Sequence[ToolOutput]) -> list[dict[str, Any]]:
        if not outputs:
            return []
        body = "\n".join(f"<{self.result_tag}>{o.content}</{self.result_tag}>" for o in outputs)
        return [{"role": self.result_role, "content": body}]

    def encode_calls(self, message: Message) -> str:
        by_tool = {v: k for k, v in self.tag_to_tool.items()}
        parts = [message.content] if message.content else []
        for tc in message.tool_calls:
            tag = by_tool.get(tc.name, tc.name)
            arg = self._argument_for(tc.name)
            try:
                args = json.loads(tc.arguments) if tc.arguments.strip() else {}
            except json.JSONDecodeError:
                args = {}
            body = str(args.get(arg, "")) if arg and isinstance(args, dict) else tc.arguments
            parts.append(f"<{tag}>{body}</{tag}>")
        return "\n".join(parts)
