"""The Arithmetic-v0 scripted solver: every generated problem read back into one expression and solved."""

from __future__ import annotations

import numpy as np
import pytest
from agentgym.envs.arithmetic import ArithmeticOracle, generate_problem, problem_expression
from agentgym.tools.common import calculate

import agentgym
from agentgym.agents import FunctionAgent
from agentgym.rollout import collect


def test_the_expression_of_a_story() -> None:
    text = ("Ava has 12 apples. Then Ava finds 30 more apples. Then Ava gives away 5 apples. Then Ava buys 3 boxes "
            "with 4 apples in each. Then the number of apples Ava has is multiplied by 2. How many apples does Ava "
            "have now?")
    assert problem_expression(text) == "(((12 + 30) - 5) + 3 * 4) * 2"
    assert calculate(problem_expression(text)) == str(((12 + 30 - 5) + 12) * 2)
    with pytest.raises(ValueError, match="step"):
        problem_expression("Ava has 3 apples. Then Ava eats 2 apples. How many apples does Ava have now?")
    with pytest.raises(ValueError, match="not a generated"):
        problem_expression("What is 2 + 2?")


@pytest.mark.parametrize("difficulty", [1, 2, 3, 4, 5, 6])
def test_expressions_equal_the_generator_answers(difficulty: int) -> None:
    rng = np.random.default_rng(difficulty)
    for _ in range(200):
        text, value = generate_problem(rng, difficulty)
        assert calculate(problem_expression(text)) == str(value), text


@pytest.mark.parametrize("protocol", ["hermes", "tags", "native"])
def test_the_oracle_solves_every_task_through_the_env(protocol: str) -> None:
    env = agentgym.make("Arithmetic-v0", difficulty=4, protocol=protocol)
    ids = env.unwrapped.tasks.ids("test")[:20]
    trajs = collect(env, FunctionAgent(ArithmeticOracle(env.unwrapped), name="oracle"), ids, concurrency=1,
                    progress=False)
    assert [t.success for t in trajs] == [True] * 20
    assert all([turn.tool_calls for turn in t.turns] == [["calculator"], ["answer"]] for t in trajs)
