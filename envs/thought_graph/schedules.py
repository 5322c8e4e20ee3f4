"""Static schedules as policies: IO, Chain of Thought, Tree of Thoughts and Graph of Thoughts.

A schedule is a fixed program of graph transformations, the baselines ARIES compares its policy with. Here
each is a plan (a generator that yields the tool calls of one turn and receives that turn's results) played
by `ScheduleAgent`, an ordinary agent: on every turn it replays its plan over the conversation so far (or the
action history, when the env rebuilds the context each turn), so it keeps no state and works with any episode
loop, in Hermes `<tool_call>` text or native tool calls.

- `io()`: one solve of the root, submitted.
- `cot()`: the same graph as IO; the reasoning happens inside the reasoner's one call (give the env an
  `LLMReasoner(chain_of_thought=True)`); with the programmatic reasoner it equals IO.
- `tot(k, rounds)`: k candidates, keep the best, then `rounds` times k refinements of the best, keep the best.
- `got(parts, k, merge_tries, refine_rounds)`: Graph of Thoughts' published schedule: split into parts, solve
  each part k times, score and keep the best of each, merge neighbours pairwise (`merge_tries` merges each,
  scored, best kept) up to the whole, then refine, keep the best, submit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.agents.base import Agent, AgentOutput
from agentgym.messages import Message, ToolCall

__all__ = ["Call", "Plan", "ScheduleAgent", "cot", "got", "got_for", "io", "schedule_agent", "tot"]

SUBMIT_FIRST = "submit"


@dataclass(frozen=True)
class Call:
    """One tool call of a plan."""

    name: str
    arguments: dict[str, Any]


#: a plan yields the calls of one turn and is sent back the text of that turn's results
Plan = Generator[list[Call], str, None]

_CREATED = re.compile(r"^(?:decompose|solve|refine|aggregate)\b[^:\n]*: created ([\d, ]+)$", re.MULTILINE)
_KEPT = re.compile(r"^reduce: kept ([\d, ]+)", re.MULTILINE)
_SCORES = re.compile(r"^score: (.+)$", re.MULTILINE)


def _numbers(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


def created(text: str) -> list[list[int]]:
    """The node ids each transformation of a turn created, in call order."""
    return [_numbers(m) for m in _CREATED.findall(text)]


def kept(text: str) -> list[list[int]]:
    """The node ids each `reduce` of a turn kept, in call order."""
    return [_numbers(m) for m in _KEPT.findall(text)]


def scores(text: str) -> dict[int, float]:
    """Node id -> errors from the `score` results of a turn."""
    found: dict[int, float] = {}
    for line in _SCORES.findall(text):
        for node, value in re.findall(r"(\d+)=([\d.]+)", line):
            found[int(node)] = float(value)
    return found


class PlanFailed(RuntimeError):
    """The env's answer did not have what the plan needed next (an error observation)."""


def _one(groups: list[list[int]], what: str) -> list[int]:
    if not groups:
        raise PlanFailed(f"no {what} in the last results")
    return groups[0]


# ---------------------------------------------------------------------------------------------- the plans


def io() -> Plan:
    """Solve the root once and submit it."""
    text = yield [Call("solve", {"nodes": [0], "k": 1})]
    (node,) = _one(created(text), "solution")[:1]
    yield [Call("submit", {"node": node})]


def cot() -> Plan:
    """Chain of Thought: IO's graph; the step-by-step reasoning is the reasoner's (see the module docstring)."""
    return io()


def _keep_best(nodes: list[int]) -> Plan:
    """Score `nodes` and keep the best one; returns its id."""
    yield [Call("score", {"nodes": nodes})]
    text = yield [Call("reduce", {"nodes": nodes, "keep": 1})]
    return _one(kept(text), "kept node")[0]


def tot(k: int = 10, rounds: int = 2) -> Plan:
    """Tree of Thoughts: k candidates, keep the best, then `rounds` times: k refinements of it, keep the best."""
    text = yield [Call("solve", {"nodes": [0], "k": k})]
    best = yield from _keep_best(_one(created(text), "candidates"))
    for _ in range(rounds):
        text = yield [Call("refine", {"nodes": [best], "k": k})]
        best = yield from _keep_best([best, *_one(created(text), "refinements")])
    yield [Call("submit", {"node": best})]


def got(parts: int = 2, k: int = 5, merge_tries: int = 10, refine_rounds: int = 1) -> Plan:
    """Graph of Thoughts' schedule (see the module docstring)."""
    text = yield [Call("decompose", {"node": 0, "parts": parts})]
    part_nodes = _one(created(text), "parts")
    text = yield [Call("solve", {"nodes": part_nodes, "k": k})]
    groups = created(text)
    if len(groups) != len(part_nodes):
        raise PlanFailed("not every part was solved")
    yield [Call("score", {"nodes": [n for g in groups for n in g]})]
    text = yield [Call("reduce", {"nodes": g, "keep": 1}) for g in groups]
    level = [g[0] for g in kept(text)]
    while len(level) > 1:
        pairs = [level[i:i + 2] for i in range(0, len(level) - 1, 2)]
        carry = level[-1:] if len(level) % 2 else []
        text = yield [Call("aggregate", {"nodes": p, "k": merge_tries}) for p in pairs]
        merged = created(text)
        if len(merged) != len(pairs):
            raise PlanFailed("not every pair was merged")
        yield [Call("score", {"nodes": [n for g in merged for n in g]})]
        text = yield [Call("reduce", {"nodes": g, "keep": 1}) for g in merged]
        level = [g[0] for g in kept(text)] + carry
    best = level[0]
    for _ in range(refine_rounds):
        text = yield [Call("refine", {"nodes": [best], "k": 1})]
        best = yield from _keep_best([best, *_one(created(text), "refinement")])
    yield [Call("submit", {"node": best})]


def got_for(size: int, part_size: int = 16, **kwargs: Any) -> Plan:
    """Graph of Thoughts with the published split: parts of about `part_size` items (32 -> 2, 64 -> 4,
    128 -> 8 for sorting and set intersection)."""
    return got(parts=max(2, math.ceil(size / part_size)), **kwargs)


# ---------------------------------------------------------------------------------------------- the agent


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


_HISTORY_LINE = re.compile(r"^(\d+)\. .*?(?: -> (.*))?$")


def history_results(text: str) -> list[str] | None:
    """Each turn's results from the "# Actions so far" section of a "graph"-context prompt (None if absent)."""
    if "# Actions so far\n" not in text:
        return None
    section = text.split("# Actions so far\n", 1)[1].split("\n\n", 1)[0]
    turns: dict[int, list[str]] = {}
    for line in section.splitlines():
        m = _HISTORY_LINE.match(line)
        if m:
            turns.setdefault(int(m.group(1)), []).append((m.group(2) or "").replace("; ", "\n"))
    return ["\n".join(turns[k]) for k in sorted(turns)]


def turn_results(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The text the env answered each assistant turn with, in order: replayed from the conversation, or read
    from the action history when the env rebuilds the context each turn (`context="graph"`)."""
    if messages and not any(m.get("role") == "assistant" for m in messages):
        from_history = history_results(_content_text(messages[-1]))
        if from_history is not None:
            return from_history
    results: list[str] = []
    current: list[str] | None = None
    for m in messages:
        if m.get("role") == "assistant":
            if current is not None:
                results.append("\n".join(current))
            current = []
        elif current is not None:
            current.append(_content_text(m))
    if current is not None:
        results.append("\n".join(current))
    return results


class ScheduleAgent(Agent):
    """Plays a static schedule as a policy (see the module docstring).

    Args:
        plan: a function returning a fresh plan generator (e.g. `lambda: got(parts=4)`).
        name: the agent's name in trajectories.
    Calls are written as Hermes `<tool_call>` blocks, or as native tool calls whenever the env passes tool
    schemas (`protocol="native"`). The one-tag-per-tool protocol cannot carry the transformations' optional
    arguments (`k`, `keep`), so the thought-graph envs are played with Hermes or native calls.
    """

    def __init__(self, plan: Callable[[], Plan], name: str = "schedule") -> None:
        from agentgym.protocols import get_protocol

        self.plan = plan
        self.name = name
        self.protocol = get_protocol("hermes")

    def next_calls(self, messages: Sequence[dict[str, Any]]) -> list[Call] | None:
        """Replay the plan over the results so far; the next turn's calls, or None when the plan cannot go on
        (its last action failed or it is over)."""
        results = turn_results(messages)
        gen = self.plan()
        try:
            calls = next(gen)
            for text in results:
                if "Error:" in text and not created(text) and not kept(text) and not scores(text):
                    return None
                calls = gen.send(text)
        except (StopIteration, PlanFailed, ValueError, IndexError):
            return None
        return calls

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        calls = self.next_calls(messages)
        if calls is None:
            return AgentOutput(message={"role": "assistant", "content": "The schedule cannot continue."})
        if tools:
            tool_calls = [{"id": f"call_{i}", "type": "function",
                           "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                          for i, c in enumerate(calls)]
            return AgentOutput(message={"role": "assistant", "content": None, "tool_calls": tool_calls})
        message = Message("assistant", None, [ToolCall(f"call_{i}", c.name, json.dumps(c.arguments))
                                             for i, c in enumerate(calls)])
        return AgentOutput(message={"role": "assistant", "content": self.protocol.encode_calls(message)})


def schedule_agent(name: str, size: int | None = None, **kwargs: Any) -> ScheduleAgent:
    """A schedule by name: "io", "cot", "tot" or "got" (GoT's split follows `size` unless `parts` is given);
    `kwargs` are the schedule's parameters."""
    plans: dict[str, Callable[[], Plan]] = {"io": io, "cot": cot, "tot": lambda: tot(**kwargs)}
    if name == "got":
        plans["got"] = (lambda: got(**kwargs)) if "parts" in kwargs or size is None else \
            (lambda: got_for(size, **kwargs))
    if name not in plans:
        raise ValueError(f"unknown schedule {name!r}; use io, cot, tot or got")
    return ScheduleAgent(plans[name], name)
