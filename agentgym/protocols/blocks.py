"""Tag blocks: a scanner for `<think>..</think><search>..</search>` style text, and one-action-per-turn protocols.

`scan_blocks` splits a reply into top-level `<tag>body</tag>` blocks and the text between them. It is a
scanner, not a regex: a block ends at the first closing tag of its own name, so tags quoted inside a
block (`<think>I will use <search> next</think>`, HTML printed by `<code>`) stay in that block's body;
an opening tag whose closing tag never comes is plain text, except for the tags a generation may
legitimately stop inside (the action tags, whose closing tag is the stop string an engine may strip).

`ActionTagProtocol` builds on `TagProtocol` for protocols in which every turn ends with exactly one
action block (a tool call or the final answer), such as TAPO's and the Markovian workspace's. It
checks a turn (`check`) into the block to execute, the errors that make the turn invalid (shown to the
agent), and the format problems that do not stop the action but make the turn ill-formed (for rewards).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.messages import Message
from agentgym.protocols.base import ParsedAction, ToolOutput
from agentgym.protocols.tags import TagProtocol
from agentgym.tool import Tool


@dataclass(frozen=True, slots=True)
class Block:
    """One top-level `<tag>body</tag>` block of a reply (`end` is just past the closing tag)."""

    tag: str
    body: str
    start: int
    end: int
    closed: bool = True

    @property
    def text(self) -> str:
        """The block as written, with its closing tag restored when the engine stripped it."""
        return f"<{self.tag}>{self.body}</{self.tag}>"


@dataclass(slots=True)
class BlockScan:
    """A reply split into blocks; `stray` is the non-blank text outside them, `unclosed` the tags opened
    and never closed (left in `stray`)."""

    blocks: list[Block] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)
    unclosed: list[str] = field(default_factory=list)

    def of(self, tag: str) -> list[Block]:
        return [b for b in self.blocks if b.tag == tag]


def _tag_at(text: str, i: int) -> tuple[str, int] | None:
    """(name, index after '>') when an opening tag `<name>` starts at `i`."""
    j = i + 1
    if j >= len(text) or not text[j].isascii() or not text[j].isalpha():
        return None
    while j < len(text) and text[j].isascii() and (text[j].isalnum() or text[j] in "_-"):
        j += 1
    if j < len(text) and text[j] == ">":
        return text[i + 1:j], j + 1
    return None


def scan_blocks(text: str, unclosed_ok: Collection[str] = ()) -> BlockScan:
    """Split `text` into top-level tag blocks (see the module docstring).

    Args:
        text: the reply.
        unclosed_ok: tags whose missing closing tag is accepted at the end of the text (their block runs
            to the end): the tags whose closing tag is a stop string.
    """
    scan = BlockScan()
    stray_start = pos = 0

    def flush(upto: int) -> None:
        piece = text[stray_start:upto].strip()
        if piece:
            scan.stray.append(piece)

    while True:
        i = text.find("<", pos)
        if i < 0:
            break
        opened = _tag_at(text, i)
        if opened is None:
            pos = i + 1
            continue
        tag, body_start = opened
        close = f"</{tag}>"
        j = text.find(close, body_start)
        if j < 0:
            if tag in unclosed_ok:
                flush(i)
                scan.blocks.append(Block(tag, text[body_start:], i, len(text), closed=False))
                stray_start = len(text)
                break
            scan.unclosed.append(tag)
            pos = body_start
            continue
        flush(i)
        end = j + len(close)
        scan.blocks.append(Block(tag, text[body_start:j], i, end))
        pos = stray_start = end
    flush(len(text))
    return scan


@dataclass(slots=True)
class TurnCheck:
    """What a protocol made of one turn.

    Attributes:
        scan: the reply's blocks.
        action: the action block to execute; None when the turn is invalid.
        errors: why the turn is invalid (the agent sees them); empty when `action` is set.
        problems: format problems that do not stop the action (they make the turn ill-formed).
        blocks: named blocks other than the action that the protocol extracted (e.g. the report).
    """

    scan: BlockScan
    action: Block | None = None
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    blocks: dict[str, Block] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.action is not None

    @property
    def well_formed(self) -> bool:
        return self.action is not None and not self.problems


def tag_list(tags: Sequence[str]) -> str:
    """`<a>, <b> or <c>`."""
    names = [f"<{t}>" for t in tags]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class ActionTagProtocol(TagProtocol):
    """A tag protocol where each turn ends with exactly one action block: a tool tag or the answer tag.

    Subclasses implement `check`. `parse` turns the check into at most one call, or into the errors that
    make the turn invalid; from turn `final_turn` on, only the answer tag is accepted (tools disabled).

    Args:
        tags: action tag -> tool name (only pairs whose tool the env has are kept when binding); None: every
            tool under its own name.
        result_tag: the tag wrapping a tool's output in the next message (None: the bare output).
        answer_tag: the action that gives the final answer (its tool ends the episode).
        final_turn: the turn from which tools are disabled (None: never).
        think_tag: the free-reasoning tag.
    """

    def __init__(
        self,
        tags: Mapping[str, str] | None = None,
        result_tag: str | None = "response",
        answer_tag: str = "answer",
        final_turn: int | None = None,
        think_tag: str = "think",
    ) -> None:
        self._wanted = dict(tags) if tags is not None else None
        self.answer_tag = answer_tag
        self.final_turn = final_turn
        self.think_tag = think_tag
        self.wrap_results = result_tag is not None
        super().__init__(tags=self._wanted, result_tag=result_tag or "", allow_unclosed=True)

    def bind(self, tools: Sequence[Tool]) -> TagProtocol:
        if self._wanted is None:
            self.tag_to_tool = {}
            return super().bind(tools)
        names = {t.name for t in tools}
        self._tools = {t.name: t for t in tools}
        # only the protocol's own tags: a tool of the env without a tag here is not reachable
        self.tag_to_tool = {tag: tool for tag, tool in self._wanted.items() if tool in names or not tools}
        self._opens = {tag: (f"<{tag}>", f"</{tag}>") for tag in self.tag_to_tool}
        return self

    # ------------------------------------------------------------------ tags and turns

    @property
    def action_tags(self) -> list[str]:
        """Every action tag, the answer tag last."""
        return sorted(self.tag_to_tool, key=lambda t: (t == self.answer_tag, list(self.tag_to_tool).index(t)))

    @property
    def tool_tags(self) -> list[str]:
        return [t for t in self.action_tags if t != self.answer_tag]

    def tools_enabled(self, turn: int) -> bool:
        """Whether tool tags are executed in `turn` (1-based)."""
        return self.final_turn is None or turn < self.final_turn

    def allowed_actions(self, turn: int) -> list[str]:
        return self.action_tags if self.tools_enabled(turn) else [t for t in self.action_tags if t == self.answer_tag]

    def scan(self, text: str) -> BlockScan:
        return scan_blocks(text, unclosed_ok=self.tag_to_tool)

    def complete(self, text: str) -> str:
        """`text` with the closing tag of a trailing action restored (an engine that strips stop strings)."""
        scan = self.scan(text)
        last = scan.blocks[-1] if scan.blocks else None
        return text + f"</{last.tag}>" if last is not None and not last.closed else text

    @abstractmethod
    def check(self, text: str, turn: int) -> TurnCheck:
        """Validate one turn (see `TurnCheck`)."""

    def valid_tags_hint(self, turn: int) -> str:
        """One sentence naming the valid tags (part of every error observation)."""
        allowed = self.allowed_actions(turn)
        if not self.tools_enabled(turn):
            return f"Tools are disabled now: write your final answer as <{self.answer_tag}>...</{self.answer_tag}>."
        return f"End your turn with exactly one of {tag_list(allowed)}, e.g. <{allowed[0]}>...</{allowed[0]}>."

    def missing_action_reason(self, scan: BlockScan) -> str:
        """Why a reply without an action block has none (an unknown tag, an unclosed block, no tag at all)."""
        unknown = list(dict.fromkeys(b.tag for b in scan.blocks
                                     if b.tag not in self.tag_to_tool and b.tag not in self.known_tags))
        if unknown:
            return f"{tag_list(unknown)} {'is not a valid tag' if len(unknown) == 1 else 'are not valid tags'}"
        nested = list(dict.fromkeys(t for b in scan.blocks if b.tag in self.known_tags
                                    for t in self.tag_to_tool if f"<{t}>" in b.body))
        if nested:
            return f"{tag_list(nested)} inside another block is not run; write the action after it"
        unclosed = [t for t in dict.fromkeys(scan.unclosed) if t in self.known_tags]
        if unclosed:
            return f"the {tag_list(unclosed)} block is not closed and no action follows it"
        return "your reply has no action tag"

    def _missing_action_error(self, scan: BlockScan, turn: int) -> str:
        return f"{self.missing_action_reason(scan)}. {self.valid_tags_hint(turn)}"

    @property
    def known_tags(self) -> set[str]:
        """Non-action tags the protocol knows (think, ...)."""
        return {self.think_tag}

    def _disabled_error(self, block: Block, turn: int) -> str:
        return f"<{block.tag}> was not run. {self.valid_tags_hint(turn)}"

    # ------------------------------------------------------------------ ToolProtocol

    @abstractmethod
    def render_tools(self, tools: Sequence[Tool]) -> str | None:
        """The protocol's rules and its action tags, for the system prompt."""

    def stop_sequences(self, tools: Sequence[Tool]) -> list[str]:
        return [f"</{tag}>" for tag in self.action_tags]

    def parse(self, message: Message, *, turn: int = 0) -> ParsedAction:
        check = self.check(message.content or "", turn)
        if check.action is None:
            return ParsedAction(message=message, errors=list(check.errors))
        call = self.call_from_body(check.action.tag, check.action.body, turn, 0)
        if isinstance(call, str):
            return ParsedAction(message=message, errors=[f"{call} {self.valid_tags_hint(turn)}"])
        return ParsedAction(message=message, calls=[call])

    def format_results(self, outputs: Sequence[ToolOutput]) -> list[dict[str, Any]]:
        answer_tool = self.tag_to_tool.get(self.answer_tag)
        # the answer ends the episode: its "submitted" acknowledgement is not part of the exchange
        shown = [o for o in outputs if o.is_error or o.call.name != answer_tool]
        if not shown:
            return []
        if not self.wrap_results:
            return [{"role": self.result_role, "content": "\n".join(o.content for o in shown)}]
        return super().format_results(shown)

    def tool_lines(self) -> list[str]:
        """`<tag>argument</tag>: description` for every action tag (for system prompts)."""
        lines = []
        for tag in self.action_tags:
            t = self._tools.get(self.tag_to_tool[tag])
            arg = self._argument_for(self.tag_to_tool[tag]) or "JSON arguments"
            if tag == self.answer_tag:
                arg, desc = "final answer", "your final answer; this ends the episode."
            else:
                desc = " ".join((t.description if t else tag).split())
            lines.append(f"<{tag}>{arg}</{tag}>: {desc}")
        return lines
