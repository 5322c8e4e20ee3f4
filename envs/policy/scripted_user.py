"""`ScriptedUser`: a deterministic simulated user that answers from a task's `UserGoal` (no model needed).

Each agent message gets one answer, checked in this order:

1. a confirmation request ("(yes/no)" or "do you confirm" in the message): "yes" when one of the tools in
   `goal.accepts` is named in it (underscores may be spaces), else "no";
2. a question about facts (a slot name, with "_" read as " ", or one of its aliases appears): the facts the
   user has for the current request and in general, as "slot: value" pairs, or "I don't have my ..." for a
   slot it does not know;
3. anything else means the current request is dealt with: the next entry of `goal.requests`, or, when none
   is left, "Thank you, that's all. ###STOP###".

Nothing is revealed before it is asked for: what the user says up front is only what the generator wrote
into the opening and the requests. `<think>` blocks and tool-call blocks in the agent's text are ignored.
Without a goal (τ-bench tasks) the user opens with `task.instruction` and ends at the agent's first reply.
"""

from __future__ import annotations

import re

from agentgym.envs.policy.types import PolicyTask, UserGoal
from agentgym.envs.policy.users import STOP_TOKEN, SimulatedUser

__all__ = ["CONFIRM_MARKERS", "ScriptedUser", "visible_text"]

CONFIRM_MARKERS = ("(yes/no)", "do you confirm")
YES = "Yes, please go ahead."
NO = "No, please don't do that."
DONE = f"Thank you, that's all. {STOP_TOKEN}"
_HIDDEN = re.compile(r"<think>.*?</think>|<tool_call>.*?(?:</tool_call>|$)", re.S)


def visible_text(text: str) -> str:
    """The agent's message as the user reads it: reasoning and tool-call blocks removed."""
    return _HIDDEN.sub("", text or "").strip()


def _mentions(text: str, phrase: str) -> bool:
    return phrase.lower() in text or phrase.lower().replace("_", " ") in text


class ScriptedUser(SimulatedUser):
    """A user that follows `task.goal` to the letter (see the module docstring for the rules)."""

    def __init__(self) -> None:
        super().__init__()
        self._goal: UserGoal | None = None
        self._request = 0  # 0: the opening's request, i: goal.requests[i - 1]

    async def start(self, task: PolicyTask) -> str:
        self._goal, self._request = task.goal, 0
        return task.goal.opening if task.goal is not None else task.instruction

    async def reply(self, agent_text: str) -> str:
        goal = self._goal
        if goal is None:
            return STOP_TOKEN
        text = visible_text(agent_text).lower()
        if any(m in text for m in CONFIRM_MARKERS):
            return YES if any(_mentions(text, tool) for tool in goal.accepts) else NO
        answer = self._answer_questions(goal, text)
        if answer:
            return answer
        self._request += 1
        if self._request <= len(goal.requests):
            return goal.requests[self._request - 1]
        return DONE

    def _known(self, goal: UserGoal) -> dict[str, str]:
        current = goal.request_facts[self._request] if self._request < len(goal.request_facts) else {}
        return {**goal.facts, **current}

    def _answer_questions(self, goal: UserGoal, text: str) -> str:
        known = self._known(goal)
        slots = list(dict.fromkeys([*goal.fact_aliases, *known]))
        given, missing = [], []
        for slot in slots:
            phrases = [slot.replace("_", " "), *goal.fact_aliases.get(slot, [])]
            if not any(p.lower() in text for p in phrases):
                continue
            if slot in known:
                given.append(f"{slot.replace('_', ' ')}: {known[slot]}")
            else:
                missing.append(slot.replace("_", " "))
        if given:
            return "; ".join(given)
        if missing:
            return f"I don't have my {' or '.join(missing)}."
        return ""
