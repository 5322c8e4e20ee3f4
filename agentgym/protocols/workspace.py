"""The Markovian-workspace protocol (IterResearch, arXiv 2511.07327): a report and one action per round.

Each round the agent writes (optionally) `<think>..</think>`, then `<report>..</report>` (its evolving
report, which replaces the previous one), then exactly one action: a tool tag such as
`<search>query</search>`, or `<answer>..</answer>`. In the last round only `<answer>` is accepted.
A round without a report, without an action or with several actions is invalid and nothing of it is
applied. `agentgym.wrappers.MarkovianWorkspace` installs this protocol and rebuilds the context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agentgym.protocols.blocks import ActionTagProtocol, Block, TurnCheck, tag_list
from agentgym.tool import Tool

REPORT_TAG = "report"


class WorkspaceProtocol(ActionTagProtocol):
    """`<think>`, `<report>`, then one action tag per round; tool output comes back bare (the wrapper
    places it in the workspace).

    Args:
        max_rounds: the last round, in which tools are disabled (None: no limit).
        tags: action tag -> tool name (None: each tool under its own name).
    """

    name = "workspace"

    def __init__(self, max_rounds: int | None = None, tags: Mapping[str, str] | None = None) -> None:
        if max_rounds is not None and max_rounds < 1:
            raise ValueError("max_rounds must be >= 1")
        self.max_rounds = max_rounds
        super().__init__(tags=tags, result_tag=None, answer_tag="answer", final_turn=max_rounds)

    @property
    def known_tags(self) -> set[str]:
        return {self.think_tag, REPORT_TAG}

    def valid_tags_hint(self, turn: int) -> str:
        allowed = self.allowed_actions(turn)
        if not self.tools_enabled(turn):
            return (f"Tools are disabled in this last round: write <{REPORT_TAG}>...</{REPORT_TAG}>, then "
                    f"<{self.answer_tag}>...</{self.answer_tag}>.")
        return f"Write <{REPORT_TAG}>...</{REPORT_TAG}>, then exactly one of {tag_list(allowed)}."

    def check(self, text: str, turn: int) -> TurnCheck:
        scan = self.scan(text)
        reports = scan.of(REPORT_TAG)
        actions = [b for b in scan.blocks if b.tag in self.tag_to_tool]
        why: list[str] = []
        if not reports:
            closed = "is not closed" if REPORT_TAG in scan.unclosed else "is missing"
            why.append(f"the <{REPORT_TAG}> {closed}")
        elif len(reports) > 1:
            why.append(f"there are {len(reports)} <{REPORT_TAG}> blocks; write one")
        action: Block | None = None
        if not actions:
            why.append(self.missing_action_reason(scan))
        elif len(actions) > 1:
            why.append(f"there are {len(actions)} actions ({', '.join(f'<{b.tag}>' for b in actions)}); a round "
                       "takes exactly one")
        else:
            action = actions[0]
            if reports and reports[0].start > action.start:
                why.append(f"the <{REPORT_TAG}> must come before the action")
            if action.tag not in self.allowed_actions(turn):
                why.append(f"<{action.tag}> was not run")
        if why:
            return TurnCheck(scan, errors=["; ".join(why) + ". " + self.valid_tags_hint(turn)])
        assert action is not None
        problems = ["text outside the tags"] if scan.stray else []
        return TurnCheck(scan, action=action, problems=problems, blocks={REPORT_TAG: reports[0]})

    def render_tools(self, tools: Sequence[Tool]) -> str | None:
        lines = [
            "# Rounds",
            "",
            "You work in rounds. Each round you see only the question, your report from the previous round, "
            "and your last action with its result; nothing else from earlier rounds is kept. Each round write:",
            f"1. optionally <{self.think_tag}>...</{self.think_tag}> to reason;",
            f"2. <{REPORT_TAG}>...</{REPORT_TAG}>: your updated report, everything found so far that you will "
            "need later (it replaces your previous report);",
            "3. exactly one action:",
            *self.tool_lines(),
        ]
        if self.max_rounds is not None and self.tool_tags:
            lines.append(f"In the last round (round {self.max_rounds}) tools are disabled and you must answer.")
        return "\n".join(lines)
