"""`LLMReasoner` with a scripted model that answers a tiny sorting task's prompts."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from agentgym.envs.thought_graph.llm_reasoner import DEFAULT_SYSTEM_PROMPT, LLMReasoner
from agentgym.envs.thought_graph.reasoner import Outcome
from agentgym.envs.thought_graph.task import TaskInstance, ThoughtTask

from agentgym.agents.base import Agent, AgentError, AgentOutput
from agentgym.agents.scripted import FunctionAgent


class TinySort(ThoughtTask):
    """Sorting lists of ints, with prompts the scripted model recognizes by their first word."""

    name = "tiny_sort"

    def statement(self, problem: list[int]) -> str:
        return f"Sort {problem}"

    def summary(self, problem: list[int]) -> str:
        return f"sort {len(problem)} numbers"

    def size(self, problem: list[int]) -> int:
        return len(problem)

    def format_solution(self, solution: list[int]) -> str:
        return json.dumps(solution)

    def parse_solution(self, text: str) -> list[int] | None:
        found = re.findall(r"\[[-\d,\s]*\]", text)
        return json.loads(found[-1]) if found else None

    def errors(self, problem: list[int], solution: list[int]) -> float:
        return float(sum(a > b for a, b in itertools.pairwise(solution)))

    def check(self, problem: list[int], solution: list[int], gold: list[int]) -> bool:
        return solution == gold

    def exact(self, problem: list[int]) -> list[int]:
        return sorted(problem)

    def corrupt(self, problem: list[int], solution: list[int], mistakes: int,
                rng: np.random.Generator) -> list[int]:
        return list(solution)

    def solve_prompt(self, problem: list[int]) -> str:
        return f"SOLVE {json.dumps(problem)}"

    def refine_prompt(self, problem: list[int], solution: list[int], errors: float | None) -> str:
        return f"REFINE {json.dumps(problem)} current {json.dumps(solution)} errors {errors}"

    def aggregate_prompt(self, problem: list[int], part_problems: Sequence[list[int]],
                         part_solutions: Sequence[list[int]]) -> str:
        return f"MERGE {json.dumps(list(part_solutions))}"

    def decompose_prompt(self, problem: list[int], parts: int) -> str:
        return f"SPLIT {parts} {json.dumps(problem)}"

    def parse_parts(self, problem: list[int], parts: int, text: str) -> list[list[int]] | None:
        try:
            value = json.loads(text.strip())
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and len(value) == parts else None

    def generate(self, rng: np.random.Generator, size: int) -> TaskInstance:
        problem = [int(x) for x in rng.integers(0, 10, size)]
        return TaskInstance(problem, sorted(problem))


def answer(messages: Sequence[dict[str, Any]]) -> str:
    """The scripted model: sorts, merges and splits, with a little prose around the answers."""
    prompt = messages[-1]["content"]
    verb, _, rest = prompt.partition(" ")
    if verb == "SOLVE":
        return f"Sorted: {json.dumps(sorted(json.loads(rest)))}"
    if verb == "REFINE":
        current = json.loads(rest.split(" current ")[1].split(" errors ")[0])
        return f"Fixed it: {json.dumps(sorted(current))}"
    if verb == "MERGE":
        return f"Merged: {json.dumps(sorted(x for part in json.loads(rest) for x in part))}"
    if verb == "SPLIT":
        parts, _, problem = rest.partition(" ")
        items, n = json.loads(problem), int(parts)
        size = -(-len(items) // n)
        return json.dumps([items[i:i + size] for i in range(0, len(items), size)])
    return "I do not know."


class TokenModel(FunctionAgent):
    """A `FunctionAgent` that reports usage like an API model (10 prompt, 3 completion tokens, 0.5 cents)."""

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        out = await super().act(messages, tools=tools, stop=stop)
        out.prompt_tokens, out.completion_tokens, out.cost = 10, 3, 0.005
        return out


TASK = TinySort()


async def test_operations_parse_the_replies_and_count_usage() -> None:
    seen: list[Sequence[dict[str, Any]]] = []

    def policy(messages: Sequence[dict[str, Any]]) -> str:
        seen.append(messages)
        return answer(messages)

    reasoner = LLMReasoner(TokenModel(policy))
    outs = await reasoner.solve(TASK, [3, 1, 2], 3)
    assert [o.solution for o in outs] == [[1, 2, 3]] * 3
    assert outs[0].text == "Sorted: [1, 2, 3]"
    refined = await reasoner.refine(TASK, [3, 1, 2], [2, 1, 3], 1.0)
    assert refined == Outcome([1, 2, 3], "Fixed it: [1, 2, 3]")
    merged = await reasoner.aggregate(TASK, [4, 3, 2, 1], [[4, 3], [2, 1]], [[3, 4], [1, 2]], 2)
    assert [o.solution for o in merged] == [[1, 2, 3, 4]] * 2
    assert await reasoner.decompose(TASK, [4, 3, 2, 1], 2) == [[4, 3], [2, 1]]

    assert reasoner.usage.calls == 3 + 1 + 2 + 1
    assert reasoner.usage.prompt_tokens == 70 and reasoner.usage.completion_tokens == 21
    assert reasoner.usage.cost == pytest.approx(0.035)
    # every call is a system prompt plus the task's prompt as the user message
    assert all([m["role"] for m in msgs] == ["system", "user"] for msgs in seen)
    assert seen[0][0]["content"] == DEFAULT_SYSTEM_PROMPT and seen[0][1]["content"] == "SOLVE [3, 1, 2]"


async def test_solve_calls_run_concurrently() -> None:
    running, peak = 0, 0

    async def policy(messages: Sequence[dict[str, Any]]) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return answer(messages)

    await LLMReasoner(FunctionAgent(policy)).solve(TASK, [2, 1], 4)
    assert peak == 4


async def test_unparsable_replies_give_no_solution() -> None:
    reasoner = LLMReasoner(FunctionAgent(lambda m: "no idea"), system_prompt="be brief")
    (out,) = await reasoner.solve(TASK, [2, 1], 1)
    assert out == Outcome(None, "no idea")
    assert await reasoner.decompose(TASK, [2, 1], 2) is None
    assert reasoner.usage.calls == 2


async def test_a_failing_call_gives_an_empty_outcome_but_agent_error_propagates() -> None:
    calls = 0

    def flaky(messages: Sequence[dict[str, Any]]) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TimeoutError("the server took too long")
        return answer(messages)

    reasoner = LLMReasoner(FunctionAgent(flaky))
    outs = await reasoner.solve(TASK, [2, 1], 3)
    assert sum(o.solution is None for o in outs) == 1
    failed = next(o for o in outs if o.solution is None)
    assert "TimeoutError" in failed.text and "too long" in failed.text
    assert [o.solution for o in outs if o.solution is not None] == [[1, 2], [1, 2]]
    assert reasoner.usage.calls == 3

    def broken(messages: Sequence[dict[str, Any]]) -> str:
        raise RuntimeError("boom")

    reasoner = LLMReasoner(FunctionAgent(broken))
    assert await reasoner.decompose(TASK, [2, 1], 2) is None
    assert (await reasoner.refine(TASK, [2, 1], [2, 1], None)).solution is None

    def misconfigured(messages: Sequence[dict[str, Any]]) -> str:
        raise AgentError("bad key")

    with pytest.raises(AgentError, match="bad key"):
        await LLMReasoner(FunctionAgent(misconfigured)).solve(TASK, [2, 1], 2)


class ClosingModel(FunctionAgent):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def test_fork_shares_the_model_but_not_usage() -> None:
    model = ClosingModel(answer)
    reasoner = LLMReasoner(model, system_prompt="custom")
    await reasoner.solve(TASK, [2, 1], 2)
    episode = reasoner.fork(seed=7)
    assert episode is not reasoner and episode.agent is model and episode.system_prompt == "custom"
    assert episode.usage.calls == 0
    await episode.solve(TASK, [2, 1], 1)
    assert (reasoner.usage.calls, episode.usage.calls) == (2, 1)
    # an agent passed in belongs to the caller: neither the reasoner nor its forks close it
    await episode.aclose()
    await reasoner.aclose()
    assert model.closed == 0
    assert reasoner.name == "llm(function)"


def test_a_spec_builds_and_owns_the_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    import agentgym.agents.spec as spec

    built: dict[str, Any] = {}

    def fake_make_agent(name: str, **options: Any) -> Agent:
        built.update(name=name, **options)
        return ClosingModel(answer)

    monkeypatch.setattr(spec, "make_agent", fake_make_agent)
    reasoner = LLMReasoner("openai:some-model", temperature=0.2, max_tokens=64)
    assert built == {"name": "openai:some-model", "temperature": 0.2, "max_tokens": 64}
    asyncio.run(reasoner.fork().aclose())
    assert reasoner.agent.closed == 0
    asyncio.run(reasoner.aclose())
    assert reasoner.agent.closed == 1
