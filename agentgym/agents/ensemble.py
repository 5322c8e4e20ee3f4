"""`ActionEnsembleAgent`: sample several actions for the same state and keep the majority.

This is the action ensemble of ARIES (arXiv 2502.21208), where the policy LLM proposes the next graph
transformation `n` times and the most frequent proposal is executed, which steadies a sampled policy. Nothing
in it is specific to thought graphs: it wraps any `Agent` and votes on the tool calls of any env.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from agentgym.agents.base import Agent, AgentError, AgentOutput, ContextWindowExceeded
from agentgym.messages import Message, ToolCall
from agentgym.protocols import ToolProtocol, get_protocol

__all__ = ["ActionEnsembleAgent", "action_key"]


def _call_key(call: ToolCall) -> str:
    try:
        args: Any = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError:
        # malformed arguments still vote, as their raw text
        return f"{call.name}({call.arguments.strip()})"
    return f"{call.name}({json.dumps(args, sort_keys=True, ensure_ascii=False)})"


def action_key(message: dict[str, Any], protocol: ToolProtocol) -> str:
    """The canonical form of an assistant message's action, equal for proposals that do the same thing.

    Each tool call becomes its name and its arguments as JSON with sorted keys (so key order and spacing do not
    split the vote); several calls are joined by newlines. A message without a parsable call is its stripped
    text.
    """
    msg = Message.from_openai(message)
    calls = protocol.parse(msg).calls
    if not calls:
        # native calls count even under a text protocol that does not look at them
        calls = [tc for tc in msg.tool_calls if tc.name]
    if calls:
        return "\n".join(_call_key(c) for c in calls)
    return msg.text.strip()


class ActionEnsembleAgent(Agent):
    """Samples `n` proposals for the same conversation and returns the one whose action most proposals share.

    The proposals run concurrently. Each is reduced to a canonical key by `action_key` (tool name + arguments as
    sorted-key JSON, or the stripped text when there is no call); the winner is the first proposal of the most
    frequent key, so ties go to the key proposed earliest. The returned output is the winning proposal itself
    (its text, reasoning and tool calls) with prompt/completion tokens and cost summed over all proposals and
    `info["ensemble"] = {"votes": {key: count}, "n": n}`. Sampling diversity comes from the inner agent (use
    a temperature above 0; at 0 all proposals agree and the ensemble only multiplies the cost).

    A proposal that fails with an ordinary exception is left out of the vote (`info["ensemble"]["failed"]`
    counts them); only when all fail is the first error raised. `AgentError` and `ContextWindowExceeded` are
    raised at once, since they concern the whole run or episode.

    Args:
        agent: the policy that proposes actions.
        n: proposals per turn.
        protocol: how tool calls are read from the proposals ("hermes" by default; native `tool_calls` in a
            message always count).
    """

    def __init__(self, agent: Agent, n: int = 5, *, protocol: str | ToolProtocol = "hermes") -> None:
        if n < 1:
            raise ValueError(f"an action ensemble needs n >= 1, got {n}")
        self.inner, self.n = agent, n
        self.protocol = get_protocol(protocol)
        self.name = f"ensemble{n}({agent.name})"

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(self.inner.act(list(messages), tools=tools, stop=stop) for _ in range(self.n)), return_exceptions=True)
        outputs: list[AgentOutput] = []
        errors: list[BaseException] = []
        for result in results:
            if isinstance(result, (AgentError, ContextWindowExceeded)) or (
                    isinstance(result, BaseException) and not isinstance(result, Exception)):
                raise result
            if isinstance(result, BaseException):
                errors.append(result)
            else:
                outputs.append(result)
        if not outputs:
            raise errors[0]
        keys = [action_key(out.message, self.protocol) for out in outputs]
        votes = Counter(keys)  # insertion-ordered: keys appear in the order first proposed
        best = max(votes.values())
        winner = next(i for i, key in enumerate(keys) if votes[key] == best)
        summary: dict[str, Any] = {"votes": dict(votes), "n": self.n}
        if errors:
            summary["failed"] = len(errors)
        chosen = outputs[winner]
        return replace(
            chosen,
            prompt_tokens=sum(int(o.prompt_tokens or 0) for o in outputs),
            completion_tokens=sum(int(o.completion_tokens or 0) for o in outputs),
            cost=sum(float(o.cost or 0.0) for o in outputs),
            latency=time.perf_counter() - t0,
            info={**chosen.info, "ensemble": summary},
        )

    async def check(self) -> None:
        """The inner agent's check."""
        await self.inner.check()

    async def aclose(self) -> None:
        """Close the inner agent."""
        await self.inner.aclose()
