"""`agentgym/PythonAlgo-v0`: generated arithmetic and algorithmic problems with exact integer answers.

Each problem is easy to state, tedious or impossible to do in one's head, and quick to compute with a
few lines of Python, so a code interpreter is a real help. `difficulty` (1-5) scales the sizes. Task ids
are reproducible (`"test-17"` is always the same problem) and the train split is practically unlimited.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from agentgym.envs.code.answers import parse_number
from agentgym.envs.code.sandbox_env import SandboxEnv
from agentgym.tools.common import answer_tool

from agentgym.protocols import ToolProtocol
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task

SYSTEM_PROMPT = (
    "You solve computational problems exactly. Write Python with the python tool to compute the result, "
    "then give the final integer with the answer tool."
)
Problem = tuple[str, int, str]


def _primes_below(n: int) -> np.ndarray:
    sieve = np.ones(n, dtype=bool)
    sieve[:2] = False
    for p in range(2, math.isqrt(n - 1) + 1):
        if sieve[p]:
            sieve[p * p::p] = False
    return np.flatnonzero(sieve)


def _fib_mod(n: int, m: int) -> int:
    def pair(k: int) -> tuple[int, int]:  # (F(k), F(k+1)) mod m by fast doubling
        if k == 0:
            return 0, 1
        a, b = pair(k >> 1)
        c = a * ((2 * b - a) % m) % m
        d = (a * a + b * b) % m
        return (d, (c + d) % m) if k & 1 else (c, d)

    return pair(n)[0]


def _collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def expression(rng: np.random.Generator, d: int) -> Problem:
    terms = [int(rng.integers(10 ** (d + 1), 10 ** (d + 2))) for _ in range(d + 2)]
    ops = [str(rng.choice(["+", "-", "*"])) for _ in terms[1:]]
    expr = str(terms[0]) + "".join(f" {o} {t}" for o, t in zip(ops, terms[1:], strict=True))
    return f"Compute {expr}.", int(eval(expr, {"__builtins__": {}})), "expression"


def modpow(rng: np.random.Generator, d: int) -> Problem:
    a, b = int(rng.integers(2, 10**d * 10)), int(rng.integers(10 ** (d + 2), 10 ** (2 * d + 3)))
    m = int(rng.integers(10**3, 10 ** (d + 4)))
    return f"What is {a}^{b} mod {m}?", pow(a, b, m), "modpow"


def prime_sum(rng: np.random.Generator, d: int) -> Problem:
    n = int(rng.integers(10 ** (d + 1), 4 * 10 ** (d + 1)))
    return f"What is the sum of all prime numbers below {n}?", int(_primes_below(n).sum()), "prime_sum"


def fibonacci(rng: np.random.Generator, d: int) -> Problem:
    n, m = int(rng.integers(10 ** (d + 1), 10 ** (d + 3))), int(rng.integers(1000, 10**6))
    return (f"Let F(0)=0, F(1)=1 and F(k)=F(k-1)+F(k-2). What is F({n}) mod {m}?", _fib_mod(n, m), "fibonacci")


def factorial_digits(rng: np.random.Generator, d: int) -> Problem:
    n = int(rng.integers(20 * d, 150 * d))
    return f"What is the sum of the decimal digits of {n}! ({n} factorial)?", sum(map(int, str(math.factorial(n)))), \
        "factorial_digits"


def collatz(rng: np.random.Generator, d: int) -> Problem:
    n = int(rng.integers(10 ** (d + 1), 10 ** (d + 3)))
    return (f"Starting from {n}, repeatedly halve the number if it is even, or replace it by 3n+1 if it is "
            f"odd. How many steps does it take to reach 1?", _collatz_steps(n), "collatz")


def lattice_paths(rng: np.random.Generator, d: int) -> Problem:
    w, h = int(rng.integers(3 * d, 8 * d)), int(rng.integers(3 * d, 8 * d))
    m = int(rng.integers(10**6, 10**9))
    return (f"How many shortest paths along grid lines lead from the corner (0, 0) to the corner ({w}, {h}) of "
            f"a grid, moving only right or up? Give the count mod {m}.", math.comb(w + h, w) % m, "lattice_paths")


def list_stats(rng: np.random.Generator, d: int) -> Problem:
    values = [int(v) for v in rng.integers(-10 ** (d + 1), 10 ** (d + 1), size=8 + 6 * d)]
    k = int(rng.integers(2, 5))
    return (f"Here is a list of numbers: {values}. What is the sum of its {k} largest values multiplied by "
            f"the sum of its {k} smallest values?", sum(sorted(values)[-k:]) * sum(sorted(values)[:k]), "list_stats")


def gcd_lcm(rng: np.random.Generator, d: int) -> Problem:
    values = [int(v) for v in rng.integers(10, 10 ** (d + 1), size=3 + d)]
    return (f"What is the least common multiple of {values} divided by their greatest common divisor?",
            math.lcm(*values) // math.gcd(*values), "gcd_lcm")


GENERATORS: tuple[Callable[[np.random.Generator, int], Problem], ...] = (
    expression, modpow, prime_sum, fibonacci, factorial_digits, collatz, lattice_paths, list_stats, gcd_lcm,
)


def generate(rng: np.random.Generator, difficulty: int) -> Problem:
    """One problem (text, integer answer, kind) at `difficulty` (1-5)."""
    return GENERATORS[int(rng.integers(len(GENERATORS)))](rng, difficulty)


def correct(state: EpisodeState) -> float:
    """1.0 when the submitted integer equals the answer exactly."""
    got = parse_number(state.answer) if state.submitted else None
    return float(got is not None and got == int(state.task.answer))


def used_python(state: EpisodeState) -> float:
    return float(state.tool_counts.get("python", 0) > 0)


class PythonAlgoEnv(SandboxEnv):
    """Generated computational problems with `python` and `answer` tools; reward 1 for the exact integer.

    Args:
        difficulty: 1 (small numbers) to 5 (large ones).
        protocol: "tags" (default), "hermes" or "native".
        max_turns: turns before truncation.
        split: "test" (default) or "train".
        sizes: nominal number of tasks per split.
        backend, pool, exec_timeout, sandbox_options: see `SandboxEnv`.
    """

    def __init__(self, difficulty: int = 2, protocol: str | ToolProtocol = "tags", max_turns: int = 6,
                 split: str = "test", sizes: dict[str, int] | None = None, **kwargs: Any) -> None:
        if not 1 <= difficulty <= 5:
            raise ValueError("difficulty must be between 1 and 5")
        self.difficulty = difficulty

        def make(rng: np.random.Generator, task_id: str, task_split: str) -> Task:
            text, value, kind = generate(rng, difficulty)
            return Task(id=task_id, prompt=text, answer=value, split=task_split,
                        metadata={"kind": kind, "difficulty": difficulty})

        tasks = GeneratedTaskDataset(make, sizes or {"train": 1_000_000, "test": 1_000}, salt=f"pyalgo{difficulty}")
        rubric = Rubric([RewardFunc(correct, 1.0), RewardFunc(used_python, 0.0)])
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        super().__init__(tasks, [answer_tool()], rubric, protocol=protocol, max_turns=max_turns, split=split,
                         **kwargs)

    def build_system_prompt(self, task: Task) -> str:
        example = self.example_text('{"code": "print(sum(range(1, 101)))"}', "answer", '{"answer": "5050"}')
        return "\n\n".join(p for p in (super().build_system_prompt(task), example) if p)
