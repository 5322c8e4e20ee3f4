"""TAPO's tag protocol (Tool-Augmented Policy Optimization, arXiv 2510.07038).

The agent reasons in `<think>..</think>`, calls a tool with `<search>query</search>` or
`<code>python code</code>`, reads the tool's output in `<response>..</response>`, and finishes with
`<answer>..</answer>`. Generation stops at the first closing action tag, so a turn is: any number of
think blocks, then exactly one action. After `max_tool_turns` turns the tools are disabled and only
`<answer>` is accepted.

Execution is lenient (the first action block of a turn runs even with stray text around it) and the
format is judged strictly: `TurnCheck.problems` lists what makes a turn ill-formed, and
`well_formed_response` checks a whole episode's response, which TAPO's reward requires to be a sequence
of tag blocks ending in `<answer>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from agentgym.protocols.blocks import ActionTagProtocol, TurnCheck, scan_blocks
from agentgym.tool import Tool

#: TAPO's action tags and the tools of the project's envs they call
TAPO_TAGS: dict[str, str] = {"search": "search", "code": "python", "answer": "answer"}
RESPONSE_TAG = "response"
THINK_TAG = "think"
#: tags whose markers (`<tag>`, `</tag>`) are structure: one inside a block's body makes a response ill-formed
TAPO_MARKERS = (THINK_TAG, "search", "code", RESPONSE_TAG, "answer")


def nested_marker(body: str, tags: Iterable[str] = TAPO_MARKERS) -> str | None:
    """The first protocol marker (`<think>`, `</code>` ...) inside a block's body, or None."""
    for tag in tags:
        for marker in (f"<{tag}>", f"</{tag}>"):
            if marker in body:
                return marker
    return None


class TAPOProtocol(ActionTagProtocol):
    """`<think>`, `<search>`, `<code>`, `<response>`, `<answer>`; one action per turn.

    Args:
        max_tool_turns: turns in which tools run; the turn after them accepts only `<answer>` (None: no limit).
        tags: action tag -> tool name (default `TAPO_TAGS`; tags whose tool the env lacks are dropped).
    """

    name = "tapo"

    def __init__(self, max_tool_turns: int | None = None, tags: Mapping[str, str] | None = None) -> None:
        if max_tool_turns is not None and max_tool_turns < 0:
            raise ValueError("max_tool_turns must be >= 0")
        self.max_tool_turns = max_tool_turns
        super().__init__(tags=dict(tags or TAPO_TAGS), result_tag=RESPONSE_TAG, answer_tag="answer",
                         final_turn=None if max_tool_turns is None else max_tool_turns + 1, think_tag=THINK_TAG)

    def check(self, text: str, turn: int) -> TurnCheck:
        scan = self.scan(text)
        actions = [i for i, b in enumerate(scan.blocks) if b.tag in self.tag_to_tool]
        if not actions:
            return TurnCheck(scan, errors=[self._missing_action_error(scan, turn)])
        first = actions[0]
        action = scan.blocks[first]
        if action.tag not in self.allowed_actions(turn):
            return TurnCheck(scan, errors=[self._disabled_error(action, turn)])
        problems = []
        if scan.stray:
            problems.append("text outside the tags")
        if scan.unclosed:
            problems.append("unclosed tag(s): " + ", ".join(f"<{t}>" for t in scan.unclosed))
        nested = [m for b in scan.blocks[:first + 1] if (m := nested_marker(b.body, self.markers))]
        if nested:
            problems.append(f"protocol tag {nested[0]} inside a block")
        before = [b.tag for b in scan.blocks[:first] if b.tag != self.think_tag]
        if before:
            problems.append("tags other than <think> before the action: " + ", ".join(f"<{t}>" for t in before))
        if first != len(scan.blocks) - 1:
            problems.append("more blocks after the action")
        return TurnCheck(scan, action=action, problems=problems)

    @property
    def markers(self) -> tuple[str, ...]:
        """Tags that are structure (TAPO's own and any mapped action tag)."""
        return tuple(dict.fromkeys([*TAPO_MARKERS, *(self._wanted or {})]))

    def render_tools(self, tools: Sequence[Tool]) -> str | None:
        tool_tags = [f"<{t}>" for t in self.tool_tags]
        lines = [
            "# Format",
            "",
            f"Think inside <{THINK_TAG}>...</{THINK_TAG}> as much as you need, then end your turn with exactly "
            "one action:",
            *self.tool_lines(),
        ]
        if tool_tags:
            lines.append(f"The output of {' or '.join(tool_tags)} comes back inside <{RESPONSE_TAG}>...</{RESPONSE_TAG}>; "
                         "then continue.")
        lines.append("Write nothing outside these tags.")
        if tool_tags and self.max_tool_turns is not None:
            lines.append(f"You can use tools in at most {self.max_tool_turns} turns; after that they are disabled "
                         f"and you must answer with <{self.answer_tag}>.")
        return "\n".join(lines)


def well_formed_response(
    response: str,
    tool_tags: Sequence[str] = ("search", "code"),
    answer_tag: str = "answer",
    think_tag: str = THINK_TAG,
    result_tag: str = RESPONSE_TAG,
    markers: Iterable[str] = TAPO_MARKERS,
) -> bool:
    """TAPO's format condition: `response` is only tag blocks (none holding a protocol marker of
    `markers`), every tool block is immediately answered by one result block, and it ends with the one
    `<answer>` block.

    `response` is the policy's turns joined with the tool results as the policy saw them, i.e.
    `info["response"]` of `agentgym.wrappers.TAPOWrapper` at the end of an episode.
    """
    scan = scan_blocks(response)
    if scan.stray or scan.unclosed or not scan.blocks:
        return False
    marker_tags = tuple(dict.fromkeys([*markers, think_tag, result_tag, answer_tag, *tool_tags]))
    if any(nested_marker(b.body, marker_tags) for b in scan.blocks):
        return False
    awaiting_result = False
    last = len(scan.blocks) - 1
    for i, block in enumerate(scan.blocks):
        if awaiting_result:
            if block.tag != result_tag:
                return False
            awaiting_result = False
        elif block.tag in tool_tags:
            awaiting_result = True
        elif block.tag == answer_tag:
            return i == last
        elif block.tag != think_tag:
            return False
    return False
