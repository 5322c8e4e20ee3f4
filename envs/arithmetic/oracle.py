"""A scripted solver for `Arithmetic-v0`: it reads the story back into one calculator expression.

The problems come from `generate_problem`'s four sentence templates (finds more, gives away, buys containers,
is multiplied), so the story can be parsed exactly. The solver calls `calculator` once with the whole
expression, then answers the number the calculator returned: the two-turn tool use behaviour cloning starts
from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agentgym.agents.scripted import last_observation

_START = re.compile(r"^\w+ has (\d+) \w+\.$")
_STEPS = [
    (re.compile(r"^Then \w+ finds (\d+) more \w+\.$"), "({acc} + {0})"),
    (re.compile(r"^Then \w+ gives away (\d+) \w+\.$"), "({acc} - {0})"),
    (re.compile(r"^Then \w+ buys (\d+) \w+ with (\d+) \w+ in each\.$"), "({acc} + {0} * {1})"),
    (re.compile(r"^Then the number of \w+ \w+ has is multiplied by (\d+)\.$"), "({acc} * {0})"),
]
_SENTENCE = re.compile(r"(?<=\.)\s+")


def problem_expression(problem: str) -> str:
    """The arithmetic expression of a generated word problem (raises ValueError on other text)."""
    sentences = _SENTENCE.split(problem.strip())
    if not sentences or not sentences[-1].startswith("How many"):
        raise ValueError(f"not a generated arithmetic problem: {problem!r}")
    start = _START.match(sentences[0])
    if start is None:
        raise ValueError(f"cannot read the starting amount in {sentences[0]!r}")
    acc = start.group(1)
    for sentence in sentences[1:-1]:
        for pattern, template in _STEPS:
            m = pattern.match(sentence)
            if m:
                acc = template.format(*m.groups(), acc=acc)
                break
        else:
            raise ValueError(f"cannot read the step {sentence!r}")
    return acc[1:-1] if acc.startswith("(") and acc.endswith(")") else acc


class ArithmeticOracle:
    """Policy callable for `FunctionAgent` over an `ArithmeticEnv`: `calculator(expression)`, then `answer`
    with the calculator's result (read from the observation, never from the task's gold answer)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._n = 0

    def _call(self, name: str, **arguments: str) -> str | dict[str, Any]:
        self._n += 1
        return self.env.protocol.action(name, arguments, f"oracle_{self._n}")

    def __call__(self, messages: Sequence[dict[str, Any]]) -> str | dict[str, Any]:
        from agentgym.envs.arithmetic.env import parse_number

        if not any(m.get("role") == "assistant" for m in messages):
            return self._call("calculator", expression=problem_expression(self.env.state.task.prompt))
        value = parse_number(last_observation(messages))
        return self._call("answer", answer="unknown" if value is None else f"{value:g}" if value % 1 else str(int(value)))
