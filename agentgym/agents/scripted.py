"""Agents that need no model: a fixed script or a Python function (tests, benchmarks, oracles)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agentgym.agents.base import Agent, AgentOutput

Policy = Callable[[Sequence[dict[str, Any]]], "str | dict[str, Any] | Awaitable[str | dict[str, Any]]"]


def last_observation(messages: Sequence[dict[str, Any]]) -> str:
    """The text of the latest env message (a `user` or `tool` message) in a conversation; "" when none.
    What scripted policies read the result of their last action from."""
    for m in reversed(messages):
        if m.get("role") in ("user", "tool"):
            content = m.get("content")
            if isinstance(content, list):  # content parts: the text ones
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class FunctionAgent(Agent):
    """Calls `policy(messages)` for each turn; it returns the assistant text or message dict."""

    def __init__(self, policy: Policy, name: str = "function") -> None:
        self.policy = policy
        self.name = name

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        out = self.policy(messages)
        if inspect.isawaitable(out):
            out = await out
        message = {"role": "assistant", "content": out} if isinstance(out, str) else {"role": "assistant", **out}
        return AgentOutput(message=message)


class ScriptedAgent(Agent):
    """Replies with the given texts in order (the turn index is the number of assistant messages so far)."""

    def __init__(self, replies: Sequence[str | dict[str, Any]], name: str = "scripted") -> None:
        if not replies:
            raise ValueError("a scripted agent needs at least one reply")
        self.replies = list(replies)
        self.name = name

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        reply = self.replies[min(turn, len(self.replies) - 1)]
        message = {"role": "assistant", "content": reply} if isinstance(reply, str) else {"role": "assistant", **reply}
        return AgentOutput(message=message)
