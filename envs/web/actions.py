"""BrowserGym's action strings as a tool-calling protocol.

BrowserGym agents answer with Python-looking function calls, one per line (`click('a51')`,
`fill('12', "hello")`, `select_option('5', ["blue"])`, `scroll(0, 200)`, `send_msg_to_user("...")`).
`parse_action_calls` reads them with Python's `ast` module, never `eval`: every statement must be a bare call of
a known action whose arguments are literals (`ast.literal_eval` on each argument node), so
`__import__('os')`, attribute calls, names, comprehensions and assignments are parse errors that the env
shows to the agent. `BrowserGymProtocol` maps the calls onto the `WebEnv` tools, so the same episode can be
driven by BrowserGym strings, Hermes JSON or native tool calls.

Text handling: when the reply has fenced code blocks (```...```), only their contents are read and every
statement there must be an action; otherwise the reply's lines that start like a call (`name(`) are read as
actions (a call may continue over the next lines) and the other lines are prose, so chain-of-thought before
the action is fine. Such a line naming an unknown function (`__import__('os')`) is an error; one that is not
valid Python at all and names no action ("Note (see below)") is prose.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.messages import Message, ToolCall
from agentgym.protocols.base import ParsedAction, ToolOutput, ToolProtocol, call_id
from agentgym.tool import Tool

__all__ = ["ACTION_SIGNATURES", "ActionCall", "BrowserGymProtocol", "format_action_call", "parse_action_calls"]

MAX_ACTION_TEXT = 20_000  # longer replies are not parsed (ast on huge inputs is slow and deep nesting recurses)
MAX_CALL_LINES = 30  # a call written over several lines may span at most this many
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_CALL_START = re.compile(r"^\s*([A-Za-z_]\w*)\s*\(")


def _as_text(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{what} must be a string")
    return str(value)


def _options(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [_as_text(v, "each option") for v in value]
    return [_as_text(value, "options")]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number")
    return float(value)


def _no_button(args: dict[str, Any]) -> None:
    if args.get("button", "left") != "left" or args.get("modifiers"):
        raise ValueError("only plain left clicks are supported (no button or modifiers)")


@dataclass(frozen=True)
class _Signature:
    """A BrowserGym function: its parameters in positional order, how many are required, and the tool
    arguments it becomes."""

    params: tuple[str, ...]
    required: int
    tool: str
    convert: Callable[[dict[str, Any]], dict[str, Any]]


def _click(a: dict[str, Any]) -> dict[str, Any]:
    _no_button(a)
    return {"bid": _as_text(a["bid"], "bid")}


def _press(a: dict[str, Any]) -> dict[str, Any]:
    # BrowserGym writes press(bid, key_comb); press(key) alone presses on the focused element
    if "key_comb" not in a:
        return {"key": _as_text(a["bid"], "key")}
    return {"key": _as_text(a["key_comb"], "key_comb"), "bid": _as_text(a["bid"], "bid")}


def _bid_only(a: dict[str, Any]) -> dict[str, Any]:
    return {"bid": _as_text(a["bid"], "bid")}


ACTION_SIGNATURES: dict[str, _Signature] = {
    "click": _Signature(("bid", "button", "modifiers"), 1, "click", _click),
    "fill": _Signature(("bid", "value"), 2, "fill",
                       lambda a: {"bid": _as_text(a["bid"], "bid"), "value": _as_text(a["value"], "value")}),
    "select_option": _Signature(("bid", "options"), 2, "select_option",
                                lambda a: {"bid": _as_text(a["bid"], "bid"), "options": _options(a["options"])}),
    "press": _Signature(("bid", "key_comb"), 1, "press", _press),
    "hover": _Signature(("bid",), 1, "hover", _bid_only),
    "scroll": _Signature(("delta_x", "delta_y"), 2, "scroll",
                         lambda a: {"dx": _number(a["delta_x"], "delta_x"), "dy": _number(a["delta_y"], "delta_y")}),
    "goto": _Signature(("url",), 1, "goto", lambda a: {"url": _as_text(a["url"], "url")}),
    "go_back": _Signature((), 0, "go_back", lambda a: {}),
    "go_forward": _Signature((), 0, "go_forward", lambda a: {}),
    "new_tab": _Signature((), 0, "new_tab", lambda a: {}),
    "tab_close": _Signature((), 0, "tab_close", lambda a: {}),
    "tab_focus": _Signature(("index",), 1, "tab_focus", lambda a: {"index": int(_number(a["index"], "index"))}),
    "send_msg_to_user": _Signature(("text",), 1, "send_msg_to_user", lambda a: {"text": _as_text(a["text"], "text")}),
    "answer": _Signature(("text",), 1, "answer", lambda a: {"text": _as_text(a["text"], "text")}),
}
# the names our own tools use for BrowserGym's parameters, accepted as keywords too
_KEYWORD_ALIASES = {"scroll": {"dx": "delta_x", "dy": "delta_y"}, "press": {"key": "key_comb"}}


@dataclass
class ActionCall:
    """One parsed action: the tool it maps to and the tool's arguments."""

    tool: str
    arguments: dict[str, Any]
    source: str


def _call_from_statement(stmt: ast.stmt, source: str) -> ActionCall:
    """The action one statement asks for; raises `ValueError` with a message for the agent."""
    snippet = ast.get_source_segment(source, stmt) or ""
    if not isinstance(stmt, ast.Expr) or not isinstance(stmt.value, ast.Call):
        raise ValueError(f"{snippet.strip()[:80]!r} is not an action call like click('12')")
    call = stmt.value
    if not isinstance(call.func, ast.Name):
        raise ValueError(f"{snippet.strip()[:80]!r}: only plain action names can be called")
    name = call.func.id
    sig = ACTION_SIGNATURES.get(name)
    if sig is None:
        known = ", ".join(ACTION_SIGNATURES)
        raise ValueError(f"unknown action {name!r}; the actions are: {known}")
    if len(call.args) > len(sig.params):
        raise ValueError(f"{name}() takes at most {len(sig.params)} arguments, got {len(call.args)}")
    bound: dict[str, Any] = {}
    for param, node in zip(sig.params, call.args, strict=False):
        if isinstance(node, ast.Starred):
            raise ValueError(f"{name}(): *arguments are not allowed")
        bound[param] = _literal(node, name)
    aliases = _KEYWORD_ALIASES.get(name, {})
    for kw in call.keywords:
        if kw.arg is None:
            raise ValueError(f"{name}(): **arguments are not allowed")
        param = aliases.get(kw.arg, kw.arg)
        if param not in sig.params:
            raise ValueError(f"{name}() has no argument {kw.arg!r}")
        if param in bound:
            raise ValueError(f"{name}() got two values for {kw.arg!r}")
        bound[param] = _literal(kw.value, name)
    missing = [p for p in sig.params[: sig.required] if p not in bound]
    if name == "press" and "bid" not in bound and "key_comb" in bound:  # press(key_comb="Enter")
        bound["bid"], missing = bound.pop("key_comb"), []
    if missing:
        raise ValueError(f"{name}() is missing {', '.join(missing)}")
    try:
        arguments = sig.convert(bound)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{name}(): {e}") from None
    return ActionCall(sig.tool, arguments, snippet.strip())


def _literal(node: ast.expr, name: str) -> Any:
    try:
        return ast.literal_eval(node)  # literals only: no names, calls or attribute access
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"{name}(): arguments must be plain literals (strings, numbers, lists)") from None


def _parse_source(source: str) -> tuple[list[ActionCall], list[str]]:
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as e:
        return [], [f"the action code is not valid Python ({e.msg}, line {e.lineno})"]
    except (ValueError, MemoryError, RecursionError) as e:
        return [], [f"the action code cannot be parsed ({type(e).__name__})"]
    calls: list[ActionCall] = []
    errors: list[str] = []
    for stmt in tree.body:
        try:
            calls.append(_call_from_statement(stmt, source))
        except ValueError as e:
            errors.append(str(e))
    return calls, errors


def _parse_lines(text: str) -> tuple[list[ActionCall], list[str]]:
    lines = text.splitlines()
    calls: list[ActionCall] = []
    errors: list[str] = []
    i = 0
    while i < len(lines):
        start = _CALL_START.match(lines[i])
        if not start:
            i += 1
            continue
        known = start.group(1) in ACTION_SIGNATURES
        # a call may continue over the next lines: take the shortest span that parses
        for end in range(i + 1, min(len(lines), i + MAX_CALL_LINES) + 1):
            chunk = "\n".join(lines[i:end]).strip()
            try:
                ast.parse(chunk, mode="exec")
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                continue
            got, errs = _parse_source(chunk)
            calls.extend(got)
            errors.extend(errs)
            i = end
            break
        else:  # nothing parses: a broken action, or prose that happens to start like a call
            if known:
                errors.append(f"{lines[i].strip()[:80]!r} is not a complete action call")
            i += 1
    return calls, errors


def parse_action_calls(text: str) -> tuple[list[ActionCall], list[str]]:
    """BrowserGym action calls in an assistant reply, and the problems found (never raises, never evaluates).

    Returns (calls in order, error messages). A reply without any call gives `([], [])`.
    """
    if len(text) > MAX_ACTION_TEXT:
        return [], [f"the reply is too long to parse as actions ({len(text)} > {MAX_ACTION_TEXT} characters)"]
    blocks = [b for b in _FENCE.findall(text) if b.strip()]
    if blocks:
        calls: list[ActionCall] = []
        errors: list[str] = []
        for block in blocks:
            got, errs = _parse_source(block.strip())
            calls.extend(got)
            errors.extend(errs)
        return calls, errors
    return _parse_lines(text)


def _py(value: Any) -> str:
    return repr(value)


def format_action_call(name: str, arguments: dict[str, Any]) -> str:
    """A tool call written as a BrowserGym string with keyword arguments, e.g. `fill(bid='3', value='x')`."""
    return f"{name}(" + ", ".join(f"{k}={_py(v)}" for k, v in arguments.items()) + ")"


class BrowserGymProtocol(ToolProtocol):
    """BrowserGym function-call strings as actions (`protocol="browsergym"` in `WebEnv`).

    The assistant writes calls such as `click('12')` (one per line, or in a ```code block```); native
    `tool_calls` in the message are accepted too. Results come back as one user message, one line per action.

    Args:
        result_role: role of the message carrying the action results.
    """

    name = "browsergym"

    def __init__(self, result_role: str = "user") -> None:
        self.result_role = result_role

    def render_tools(self, tools: Sequence[Tool]) -> str | None:
        if not tools:
            return None
        lines = ["# Actions", "",
                 "Act by writing function calls, one per line (several lines run in order), for example "
                 "click('12') or fill('7', \"blue shoes\"). Element ids are the numbers in brackets in the "
                 "page text. Arguments must be plain strings, numbers or lists.", ""]
        for t in tools:
            props = t.parameters.get("properties", {})
            required = set(t.required)
            params = [p if p in required else f"{p}=None" for p in props]
            lines.append(f"{t.name}({', '.join(params)}): {t.description.splitlines()[0] if t.description else ''}")
        return "\n".join(lines)

    def parse(self, message: Message, *, turn: int = 0) -> ParsedAction:
        if message.tool_calls:  # a native call in the message: take it as it is
            calls = [tc if tc.id else ToolCall(call_id(turn, i), tc.name, tc.arguments)
                     for i, tc in enumerate(message.tool_calls)]
            return ParsedAction(message=message, calls=calls)
        found, errors = parse_action_calls(message.content or "")
        calls = [ToolCall(call_id(turn, i), c.tool, json.dumps(c.arguments, ensure_ascii=False))
                 for i, c in enumerate(found)]
        return ParsedAction(message=message, calls=calls, errors=errors)

    def format_results(self, outputs: Sequence[ToolOutput]) -> list[dict[str, Any]]:
        if not outputs:
            return []
        lines = []
        for o in outputs:
            try:
                args = o.call.parsed_arguments()
            except ValueError:
                args = {}
            lines.append(f"{format_action_call(o.call.name, args)}: {o.content}")
        return [{"role": self.result_role, "content": "\n".join(lines)}]

    def encode_calls(self, message: Message) -> str:
        parts = [message.content] if message.content else []
        for tc in message.tool_calls:
            try:
                args = tc.parsed_arguments()
            except ValueError:
                args = {}
            parts.append(format_action_call(tc.name, args))
        return "\n".join(parts)
