"""Arithmetic word problems, generated with a difficulty knob and graded exactly.

Each problem is a short story whose quantity changes a few times (buying, giving away, packing into boxes);
the answer is an integer. Small models get multi-digit products wrong on their own, so the `calculator`
tool is a real help, which makes this env a quick check that an agent loop and its tools work.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import numpy as np
from agentgym.tools.common import answer_tool, calculator_tool

from agentgym.env import LanguageEnv
from agentgym.messages import Message, ToolCall
from agentgym.protocols import ToolProtocol
from agentgym.records import TaskRecord
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task

NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam"]
ITEMS = ["apples", "marbles", "stickers", "books", "coins", "pencils", "stamps", "shells", "cards", "beads"]
CONTAINERS = ["boxes", "bags", "crates", "jars", "packs"]

SYSTEM_PROMPT = (
    "You solve arithmetic word problems. Use the calculator tool for every computation, "
    "then give the final number with the answer tool."
)

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse_number(text: Any) -> float | None:
    """The last number in `text` (commas and currency signs ignored), or None."""
    if text is None:
        return None
    found = _NUMBER.findall(str(text).replace(",", ""))
    return float(found[-1]) if found else None


def generate_problem(rng: np.random.Generator, difficulty: int) -> tuple[str, int]:
    """A word problem with `difficulty` operations on numbers of growing size; returns (text, answer)."""
    name, item = NAMES[rng.integers(len(NAMES))], ITEMS[rng.integers(len(ITEMS))]
    digits = min(1 + difficulty, 4)
    lo, hi = 10 ** (digits - 1), 10**digits
    value = int(rng.integers(lo, hi))
    sentences = [f"{name} has {value} {item}."]
    for _ in range(difficulty):
        op = int(rng.integers(4))
        if op == 0:
            k = int(rng.integers(lo, hi))
            sentences.append(f"Then {name} finds {k} more {item}.")
            value += k
        elif op == 1 and value > 1:
            k = int(rng.integers(1, value))
            sentences.append(f"Then {name} gives away {k} {item}.")
            value -= k
        elif op == 2:
            boxes, each = int(rng.integers(2, 10 + 5 * difficulty)), int(rng.integers(2, hi))
            box = CONTAINERS[rng.integers(len(CONTAINERS))]
            sentences.append(f"Then {name} buys {boxes} {box} with {each} {item} in each.")
            value += boxes * each
        else:
            factor = int(rng.integers(2, 4 + difficulty))
            sentences.append(f"Then the number of {item} {name} has is multiplied by {factor}.")
            value *= factor
    sentences.append(f"How many {item} does {name} have now?")
    return " ".join(sentences), value


def correct(state: EpisodeState) -> float:
    """1.0 when the submitted number equals the gold answer exactly."""
    got = parse_number(state.answer) if state.submitted else None
    return float(got is not None and got == float(state.task.answer))


def used_calculator(state: EpisodeState) -> float:
    return float(state.tool_counts.get("calculator", 0) > 0)


def answered(state: EpisodeState) -> float:
    return float(state.submitted)


CALCULATOR = calculator_tool()
ANSWER = answer_tool()


class ArithmeticEnv(LanguageEnv):
    """`agentgym/Arithmetic-v0`: word problems with `calculator(expression)` and `answer(answer)`.

    Args:
        difficulty: number of operations in a problem (1-6); operands grow with it.
        protocol: "hermes" (default), "tags" or "native".
        max_turns: turns before truncation.
        split: "test" (default) or "train".
        sizes: nominal number of tasks per split.
    """

    def __init__(
        self,
        difficulty: int = 2,
        protocol: str | ToolProtocol = "hermes",
        max_turns: int = 6,
        split: str = "test",
        sizes: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if not 1 <= difficulty <= 6:
            raise ValueError("difficulty must be between 1 and 6")
        self.difficulty = difficulty

        def make_task(rng: np.random.Generator, task_id: str, task_split: str) -> Task:
            text, value = generate_problem(rng, difficulty)
            return Task(id=task_id, prompt=text, answer=value, split=task_split, metadata={"difficulty": difficulty})

        tasks = GeneratedTaskDataset(make_task, sizes or {"train": 100_000, "test": 1_000}, salt=f"arith{difficulty}")
        rubric = Rubric([RewardFunc(correct, 1.0), RewardFunc(used_calculator, 0.0), RewardFunc(answered, 0.0)])
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        super().__init__(tasks, [CALCULATOR, ANSWER], rubric, protocol=protocol, max_turns=max_turns,
                         split=split, **kwargs)

    def task_record(self, task: Task) -> TaskRecord:
        """The gold number; answers are compared as numbers ("math")."""
        return replace(super().task_record(task), kind="math")

    def build_system_prompt(self, task: Task) -> str:
        """Instructions, tool descriptions, and one worked example written in the env's own protocol."""
        base = super().build_system_prompt(task)
        if self.protocol.native:
            return base
        calc = Message("assistant", None, [ToolCall("call_0", "calculator", '{"expression": "23 * 4"}')])
        ans = Message("assistant", None, [ToolCall("call_1", "answer", '{"answer": "92"}')])
        return (f"{base}\n\nExample. Problem: Sam has 23 bags with 4 nuts each. How many nuts?\n"
                f"You write: {self.protocol.encode_calls(calc)}\nYou get the result 92, then write: "
                f"{self.protocol.encode_calls(ans)}")
