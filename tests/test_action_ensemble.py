"""`ActionEnsembleAgent` (ARIES' action ensemble) and `aries_policy`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from agentgym.envs.thought_graph.aries import aries_policy

from agentgym.agents import ActionEnsembleAgent
from agentgym.agents.base import Agent, AgentError, AgentOutput, ContextWindowExceeded
from agentgym.agents.ensemble import action_key
from agentgym.protocols import get_protocol

SOLVE_A = 'Node 1 is open. <tool_call>{"name": "solve", "arguments": {"nodes": [1], "k": 2}}</tool_call>'
SOLVE_B = 'Solve it.\n<tool_call>\n{"arguments": {"k": 2, "nodes": [1]}, "name": "solve"}\n</tool_call>'
SOLVE_C = '<tool_call>{"name":"solve","arguments":{"k":2,"nodes":[1]}}</tool_call>'
SUBMIT = 'Done. <tool_call>{"name": "submit", "arguments": {"node": 3}}</tool_call>'
DECOMPOSE = '<tool_call>{"name": "decompose", "arguments": {"node": 0, "parts": 2}}</tool_call>'


class Proposals(Agent):
    """Replies with the next item of `replies` on each call, reporting usage per call."""

    name = "scripted"

    def __init__(self, replies: Sequence[str | dict[str, Any] | Exception]) -> None:
        self.replies, self.index, self.closed, self.checked = list(replies), 0, 0, 0
        self.seen: list[tuple[list[dict[str, Any]], Any, Any]] = []

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        reply = self.replies[self.index]
        self.index += 1
        self.seen.append((list(messages), tools, stop))
        await asyncio.sleep(0)
        if isinstance(reply, Exception):
            raise reply
        message = {"role": "assistant", "content": reply} if isinstance(reply, str) else {"role": "assistant", **reply}
        return AgentOutput(message=message, prompt_tokens=100, completion_tokens=7, cost=0.01, info={"inner": True})

    async def check(self) -> None:
        self.checked += 1

    async def aclose(self) -> None:
        self.closed += 1


CONVERSATION = [{"role": "system", "content": "pick a transformation"}, {"role": "user", "content": "graph: ..."}]
SOLVE_KEY = 'solve({"k": 2, "nodes": [1]})'


async def test_majority_wins_whatever_the_key_order() -> None:
    inner = Proposals([SUBMIT, SOLVE_A, DECOMPOSE, SOLVE_B, SOLVE_C])
    agent = ActionEnsembleAgent(inner, n=5)
    out = await agent.act(CONVERSATION, stop=["</tool_call>"])
    assert out.message["content"] == SOLVE_A  # the first proposal of the majority action, returned as it is
    assert out.info["ensemble"] == {
        "votes": {'submit({"node": 3})': 1, SOLVE_KEY: 3, 'decompose({"node": 0, "parts": 2})': 1}, "n": 5}
    assert out.info["inner"] is True
    assert (out.prompt_tokens, out.completion_tokens) == (500, 35)
    assert out.cost == pytest.approx(0.05)
    assert agent.name == "ensemble5(scripted)"
    # every proposal saw the same conversation and settings
    assert all(seen == (CONVERSATION, None, ["</tool_call>"]) for seen in inner.seen)


async def test_ties_go_to_the_earliest_proposal() -> None:
    out = await ActionEnsembleAgent(Proposals([DECOMPOSE, SOLVE_A, SOLVE_B, DECOMPOSE]), n=4).act(CONVERSATION)
    assert out.message["content"] == DECOMPOSE
    out = await ActionEnsembleAgent(Proposals([SUBMIT, SOLVE_A, DECOMPOSE]), n=3).act(CONVERSATION)
    assert out.message["content"] == SUBMIT
    assert list(out.info["ensemble"]["votes"].values()) == [1, 1, 1]


async def test_text_replies_vote_by_their_stripped_text() -> None:
    out = await ActionEnsembleAgent(Proposals(["  I give up. ", SOLVE_A, "I give up.\n"]), n=3).act(CONVERSATION)
    assert out.message["content"] == "  I give up. "
    assert out.info["ensemble"]["votes"] == {"I give up.": 2, SOLVE_KEY: 1}


def native(name: str, arguments: dict[str, Any] | str, content: str | None = None) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"content": content, "tool_calls": [{"id": "c1", "type": "function",
                                                 "function": {"name": name, "arguments": args}}]}


async def test_native_tool_calls_count() -> None:
    replies = [native("submit", {"node": 3}), native("solve", {"nodes": [1], "k": 2}, "thinking"),
               native("solve", '{"k": 2,  "nodes": [1]}'), SOLVE_C]
    for protocol in ("native", "hermes", "tags"):
        out = await ActionEnsembleAgent(Proposals(replies), n=4, protocol=protocol).act(CONVERSATION)
        assert out.message["content"] == "thinking" and out.message["tool_calls"][0]["function"]["name"] == "solve"
        # the Hermes text call counts only under the Hermes protocol
        assert out.info["ensemble"]["votes"][SOLVE_KEY] == (3 if protocol == "hermes" else 2)


def test_action_key_is_canonical() -> None:
    hermes = get_protocol("hermes")
    assert action_key({"role": "assistant", "content": SOLVE_A}, hermes) == SOLVE_KEY
    assert action_key({"role": "assistant", "content": SOLVE_B}, hermes) == SOLVE_KEY
    assert action_key({"role": "assistant", **native("solve", {"k": 2, "nodes": [1]})}, hermes) == SOLVE_KEY
    assert action_key({"role": "assistant", "content": None}, hermes) == ""
    two = action_key({"role": "assistant", "content": SOLVE_A + DECOMPOSE}, hermes)
    assert two == SOLVE_KEY + '\ndecompose({"node": 0, "parts": 2})'


async def test_failed_proposals_are_left_out_unless_all_fail() -> None:
    inner = Proposals([SUBMIT, RuntimeError("hiccup"), SOLVE_A, SOLVE_B])
    out = await ActionEnsembleAgent(inner, n=4).act(CONVERSATION)
    assert out.message["content"] == SOLVE_A
    assert out.info["ensemble"] == {"votes": {'submit({"node": 3})': 1, SOLVE_KEY: 2}, "n": 4, "failed": 1}
    assert out.prompt_tokens == 300
    with pytest.raises(RuntimeError, match="first"):
        await ActionEnsembleAgent(Proposals([RuntimeError("first"), RuntimeError("second")]), n=2).act(CONVERSATION)
    with pytest.raises(AgentError):
        await ActionEnsembleAgent(Proposals([SUBMIT, AgentError("bad key")]), n=2).act(CONVERSATION)
    with pytest.raises(ContextWindowExceeded):
        await ActionEnsembleAgent(Proposals([ContextWindowExceeded(4096, 5000), SUBMIT]), n=2).act(CONVERSATION)


async def test_proposals_run_concurrently_and_hooks_delegate() -> None:
    running, peak = 0, 0

    class Slow(Proposals):
        async def act(self, messages: Sequence[dict[str, Any]], **kwargs: Any) -> AgentOutput:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1
            return await super().act(messages, **kwargs)

    inner = Slow([SOLVE_A] * 3)
    agent = ActionEnsembleAgent(inner, n=3)
    await agent.act(CONVERSATION)
    assert peak == 3
    await agent.check()
    await agent.aclose()
    assert (inner.checked, inner.closed) == (1, 1)
    with pytest.raises(ValueError):
        ActionEnsembleAgent(inner, n=0)


async def test_aries_policy_composes_an_ensemble(monkeypatch: pytest.MonkeyPatch) -> None:
    inner = Proposals([SOLVE_A, SUBMIT, SOLVE_B])
    policy = aries_policy(inner, ensemble=3)
    assert isinstance(policy, ActionEnsembleAgent) and policy.inner is inner and policy.n == 3
    assert (await policy.act(CONVERSATION)).message["content"] == SOLVE_A

    import agentgym.agents.spec as spec

    built: dict[str, Any] = {}

    def fake_make_agent(name: str, **options: Any) -> Agent:
        built.update(name=name, **options)
        return Proposals([SUBMIT])

    monkeypatch.setattr(spec, "make_agent", fake_make_agent)
    policy = aries_policy("openai:some-model", max_tokens=256)
    assert built == {"name": "openai:some-model", "temperature": 0.7, "max_tokens": 256}
    assert policy.n == 5 and policy.name == "ensemble5(scripted)" and policy.protocol.name == "hermes"
