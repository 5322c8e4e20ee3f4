"""A scripted solver for `MathPython-v0`: a GSM8K solution turned into a python-tool trajectory.

GSM8K solutions mark every computation with a calculator annotation, `<<48/2=24>>`. `solution_program`
turns them into a Python program, one assignment per annotated step with the solution's sentence as a
comment, ending in a `print` of the result; `MathPythonOracle` runs that program with the `python` tool and
submits the printed number with `answer`. These are the demonstrations behaviour cloning starts from (a
small model learns the tool format and the habit of computing in Python, not the arithmetic by heart).

An annotation whose expression is not plain arithmetic (`5%`, `2x3`) becomes the annotated value itself. When
the last step is not the solution's final answer (the last line rounds, or states the answer in words) the
program prints the `####` answer instead, so every demonstration is correct.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.envs.code.answers import answers_match, gsm8k_gold
from agentgym.tools.common import calculate

from agentgym.agents.scripted import last_observation

_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
_ARITHMETIC = re.compile(r"^[\d\s.+\-*/()]+$")


@dataclass(frozen=True)
class SolutionProgram:
    """The program for one solution: its code and the value it prints."""

    code: str
    result: str


def _comment(line: str) -> str:
    text = _ANNOTATION.sub("", line).replace("\n", " ").strip()
    return f"# {text}" if text else ""


def _python_expression(expr: str, value: str) -> str:
    """The annotation's expression when it is plain arithmetic that gives its annotated value, else the value."""
    expr = expr.replace(",", "").strip()
    value = value.replace(",", "").strip()
    if _ARITHMETIC.match(expr):
        try:
            if answers_match(calculate(expr), value, rel_tol=1e-4):
                return expr
        except ValueError:
            pass
    return value


def solution_program(solution: str) -> SolutionProgram:
    """The Python program of a GSM8K-format solution (annotated steps, then `#### answer`)."""
    body, _, _ = solution.partition("####")
    gold = gsm8k_gold(solution)
    lines: list[str] = []
    last_var, last_value = None, None
    step = 0
    for line in body.strip().splitlines():
        comment = _comment(line)
        if comment:
            lines.append(comment)
        for expr, value in _ANNOTATION.findall(line):
            step += 1
            last_var, last_value = f"step_{step}", _python_expression(expr, value)
            lines.append(f"{last_var} = {last_value}")
    try:
        computed = calculate(last_value) if last_value is not None else None
    except ValueError:
        computed = None
    if last_var is not None and computed is not None and answers_match(computed, gold):
        lines.append(f"print({last_var})")
        result = computed
    else:
        lines.append(f"print({gold})" if re.fullmatch(r"-?[\d.]+", gold) else f"print({gold!r})")
        result = gold
    return SolutionProgram("\n".join(lines), result)


class MathPythonOracle:
    """Policy callable for `FunctionAgent` over a `MathPythonEnv` whose tasks carry a GSM8K solution
    (`task.metadata["solution"]`): turn 1 runs `solution_program` with `python`, turn 2 answers the number the
    sandbox printed (the program's own value when the output holds no number)."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._n = 0

    def _call(self, name: str, **arguments: str) -> str | dict[str, Any]:
        self._n += 1
        return self.env.protocol.action(name, arguments, f"oracle_{self._n}")

    def __call__(self, messages: Sequence[dict[str, Any]]) -> str | dict[str, Any]:
        task = self.env.state.task
        solution = task.metadata.get("solution")
        if not solution:
            raise ValueError(f"task {task.id!r} has no GSM8K solution to turn into a program")
        program = solution_program(solution)
        if not any(m.get("role") == "assistant" for m in messages):
            return self._call("python", code=program.code)
        from agentgym.envs.code.answers import parse_number

        printed = parse_number(last_observation(messages))
        value = program.result if printed is None else _plain(printed)
        return self._call("answer", answer=value)


def _plain(number: Any) -> str:
    """A Fraction as the shortest exact decimal text ("24", "0.2", "1/3")."""
    if number.denominator == 1:
        return str(number.numerator)
    as_float = float(number)
    text = f"{as_float:.10g}"
    return text if answers_match(text, f"{number.numerator}/{number.denominator}") else str(number)


def math_python_oracle(env: Any) -> MathPythonOracle:
    """The scripted solver for `env` (see `MathPythonOracle`)."""
    return MathPythonOracle(env)
