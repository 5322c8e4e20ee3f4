"""HumanEval as a thought-graph task: real problems graded by their hidden tests in the local sandbox."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from agentgym.envs.thought_graph.reasoner import ProgrammaticReasoner
from agentgym.envs.thought_graph.task import UnsupportedOperation
from agentgym.envs.thought_graph.tasks.humaneval import HumanEvalThoughtTask


@pytest.fixture(scope="module")
def task() -> Iterator[HumanEvalThoughtTask]:
    t = HumanEvalThoughtTask()
    yield t
    t.close()


async def test_canonical_solutions_pass(task: HumanEvalThoughtTask) -> None:
    for inst in task.load(["HumanEval/0", "HumanEval/2", "HumanEval/10", "HumanEval/32"]):
        assert inst.gold == task.exact(inst.problem)
        assert await task.aerrors(inst.problem, inst.gold) == 0
        assert await task.acheck(inst.problem, inst.gold, inst.gold)
        assert task.baseline_errors(inst.problem) == inst.metadata["tests"] > 0
    # the sync path grades the same
    inst = task.instance("HumanEval/0")
    assert task.errors(inst.problem, inst.gold) == 0
    assert task.check(inst.problem, inst.gold, inst.gold)


async def test_broken_programs_fail_every_test(task: HumanEvalThoughtTask) -> None:
    problem = task.instance("HumanEval/2").problem
    total = task.baseline_errors(problem)
    assert await task.aerrors(problem, "def truncate_number(number):\n    return (\n") == total  # no parse
    assert await task.aerrors(problem, "def other(x):\n    return x % 1.0\n") == total  # no entry point
    assert await task.aerrors(problem, None) == total
    assert not await task.acheck(problem, "def truncate_number(number):\n    return 0.0\n", None)
    # one test of three passes (truncate_number(3.5) == 0.5 is the only one hit by this special case)
    partial = "def truncate_number(number):\n    return 0.5\n"
    assert await task.aerrors(problem, partial) == 2


async def test_concurrent_grading_uses_separate_sessions(task: HumanEvalThoughtTask) -> None:
    insts = task.load([f"HumanEval/{i}" for i in range(6)])
    wrong = ["def nothing():\n    pass\n"] * 3
    results = await asyncio.gather(*(task.aerrors(i.problem, i.gold) for i in insts),
                                   *(task.aerrors(i.problem, w) for i, w in zip(insts, wrong, strict=False)))
    assert results[:6] == [0.0] * 6
    assert all(r > 0 for r in results[6:])


async def test_corrupted_solutions_fail(task: HumanEvalThoughtTask) -> None:
    failing = 0
    for n in range(10):
        inst = task.instance(f"HumanEval/{n}")
        bad = task.corrupt(inst.problem, inst.gold, 2, np.random.default_rng(n))
        ast.parse(bad)
        assert bad != inst.gold
        failing += await task.aerrors(inst.problem, bad) > 0
    assert failing >= 8
    inst = task.instance("HumanEval/0")
    assert task.corrupt(inst.problem, inst.gold, 0, np.random.default_rng(0)) == inst.gold


async def test_corrupt_without_sites_returns_none(task: HumanEvalThoughtTask) -> None:
    problem = task.instance("HumanEval/2").problem
    code = "def truncate_number(number: float) -> float:\n    \"\"\"doc\"\"\"\n    return number % 1.0\n"
    for _ in range(3):  # slips keep coming until the only site (the return) is gone
        code = task.corrupt(problem, code, 1, np.random.default_rng(0))
    assert "return None" in code
    assert await task.aerrors(problem, code) == task.baseline_errors(problem)


def test_parse_solution(task: HumanEvalThoughtTask) -> None:
    fenced = "Here you go:\n```python\ndef f(x):\n    return x + 1\n```\nIt adds one."
    assert task.parse_solution(fenced) == "def f(x):\n    return x + 1\n"
    unfenced = "The function is\ndef f(x):\n    return x + 1\n"
    assert task.parse_solution(unfenced) == "def f(x):\n    return x + 1\n"
    assert task.parse_solution("```python3\nimport math\ndef g():\n    return math.pi\n```").startswith("import math")
    assert task.parse_solution("I would sort the list and then compare neighbours.") is None
    assert task.parse_solution("") is None
    code = task.exact(task.instance("HumanEval/0").problem)
    assert task.parse_solution(task.format_solution(code)) == code


async def test_programmatic_reasoner_mixes_right_and_wrong(task: HumanEvalThoughtTask) -> None:
    reasoner = ProgrammaticReasoner(error_rate=0.1, seed=0).fork(0)
    problem = task.instance("HumanEval/0").problem  # 7 lines: about half the tries are right
    outcomes = await reasoner.solve(task, problem, 20)
    right = [await task.aerrors(problem, o.solution) == 0 for o in outcomes]
    assert 3 <= sum(right) <= 17
    assert reasoner.usage.calls == 20


def test_split_needs_an_llm(task: HumanEvalThoughtTask) -> None:
    problem = task.instance("HumanEval/0").problem
    with pytest.raises(UnsupportedOperation, match="needs an LLM reasoner"):
        task.split(problem, 2)


async def test_decomposition_by_llm_parts_and_merge(task: HumanEvalThoughtTask) -> None:
    problem = task.instance("HumanEval/0").problem
    assert "at most 2 helper" in task.decompose_prompt(problem, 2)
    reply = ('```python\ndef pairs(xs: list) -> list:\n    """All pairs (a, b) of distinct positions."""\n    ...\n\n'
             'def close(a: float, b: float, t: float) -> bool:\n    """Whether |a - b| < t."""\n\n'
             'def has_close_elements(numbers, threshold):\n    """the main one"""\n\n'
             'def no_doc(x):\n    return x\n```')
    parts = task.parse_parts(problem, 2, reply)
    assert parts is not None and [p["name"] for p in parts] == ["pairs", "close"]
    assert all(p["kind"] == "helper" and p["parent_entry_point"] == "has_close_elements" for p in parts)
    assert parts[0]["signature_and_doc"].startswith("def pairs(xs: list) -> list:")
    assert task.parse_parts(problem, 2, "no code here") is None
    assert task.join(problem, parts) == problem

    helper_code = "def close(a, b, t):\n    return abs(a - b) < t\n"
    assert await task.aerrors(parts[1], helper_code) == 0
    assert await task.aerrors(parts[1], "def other():\n    pass\n") == 1
    main = ("def has_close_elements(numbers, threshold):\n    return any(close(a, b, threshold) for i, a in "
            "enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n")
    merged = task.merge(problem, [main, helper_code])
    assert merged.index("def close") < merged.index("def has_close_elements")
    assert await task.aerrors(problem, merged) == 0
    assert "def close" in task.aggregate_prompt(problem, parts, [helper_code])


def test_generate_and_prompts(task: HumanEvalThoughtTask) -> None:
    inst = task.generate(np.random.default_rng(3), size=100)
    assert inst.source_id is not None and inst.source_id.startswith("HumanEval/")
    assert len(task.load()) == 164
    problem = inst.problem
    assert problem["prompt"].strip() in task.statement(problem) and "check(" not in task.statement(problem)
    assert task.summary(problem).startswith(inst.source_id)
    assert "```python" in task.solve_prompt(problem)
    code = "def f(x):\n    if x:\n        return 1\n"
    refine = task.refine_prompt(problem, code, 2)
    assert f"fails 2 of the {task.baseline_errors(problem):g} hidden tests" in refine and code in refine
