"""Reasoners: who carries out a graph transformation (solve, refine, aggregate, decompose).

The thought-graph env's policy chooses transformations; a reasoner executes them. `ProgrammaticReasoner` is
the LLM stand-in for tests, benchmarks and CPU training: it knows the exact procedures of the task and makes
mistakes like an LLM whose accuracy falls with the input's length. `LLMReasoner`
(`agentgym.envs.thought_graph.llm_reasoner`) asks any agentgym agent. Every call is counted in `usage`, apart
from the policy's tokens.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from agentgym.envs.thought_graph.task import Problem, Solution, ThoughtTask

from agentgym.agents.base import ModelUsage

__all__ = ["Outcome", "ProgrammaticReasoner", "Reasoner", "ReasonerUsage"]


#: what the reasoner spent in one episode: model calls, tokens and cost
ReasonerUsage = ModelUsage


@dataclass
class Outcome:
    """One result of a transformation: the parsed solution (None when the reply had none) and the raw text."""

    solution: Solution | None
    text: str = ""


class Reasoner(ABC):
    """Executes graph transformations. The env calls `fork(seed)` once per episode (usage and randomness
    are per episode), then the four operations; each model call adds to `usage`."""

    name: str = "reasoner"

    def __init__(self) -> None:
        self.usage = ReasonerUsage()

    @abstractmethod
    async def solve(self, task: ThoughtTask, problem: Problem, k: int) -> list[Outcome]:
        """`k` candidate solutions of `problem` (k calls)."""

    @abstractmethod
    async def refine(self, task: ThoughtTask, problem: Problem, solution: Solution, errors: float | None) -> Outcome:
        """An improved solution, given the current one and its error count (one call)."""

    @abstractmethod
    async def aggregate(self, task: ThoughtTask, problem: Problem, part_problems: Sequence[Problem],
                        part_solutions: Sequence[Solution], k: int) -> list[Outcome]:
        """`k` merges of the parts' solutions into solutions of `problem` (k calls)."""

    @abstractmethod
    async def decompose(self, task: ThoughtTask, problem: Problem, parts: int) -> list[Problem] | None:
        """`problem` split into `parts` part problems (one call); None when the reply was unusable."""

    def fork(self, seed: int | None = None) -> Reasoner:
        """A reasoner for one episode sharing no mutable state with this one (a deep copy by default;
        reasoners that hold a model override it to share the model)."""
        clone = copy.deepcopy(self)
        clone.usage = ReasonerUsage()
        return clone

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the reasoner holds (a model it owns)."""


class ProgrammaticReasoner(Reasoner):
    """An LLM stand-in with a controllable error rate that grows with the input's length.

    Solving a problem of size n makes Binomial(n, p(n)) mistakes with p(n) = min(p_max, error_rate * n /
    task.reference_size): with the defaults it sorts 8 numbers right 82% of the time, 16 numbers 44%, 32
    numbers 3% and 64 almost never, so decomposition pays off as it does with LLMs. Merging is easier than
    solving (`merge_error_rate`). Refining fixes each error it is told about with probability `fix_rate` but,
    like an LLM rewriting a long answer, makes new mistakes at `refine_noise` times the solving rate.
    Decomposition is exact. Each operation counts one call per result.

    Args:
        error_rate: per-item mistake probability when solving a problem of the task's reference size.
        merge_error_rate: the same for aggregation (merging partial solutions).
        fix_rate: the chance that refining fixes each error it is told about.
        refine_noise: new mistakes made while refining, as a fraction of the solving rate.
        p_max: the cap on the per-item mistake probability.
        seed: the base seed; `fork(seed)` derives each episode's generator from it.
    """

    name = "programmatic"

    def __init__(self, error_rate: float = 0.1, merge_error_rate: float = 0.02, fix_rate: float = 0.5,
                 refine_noise: float = 1.0, p_max: float = 0.5, seed: int = 0) -> None:
        super().__init__()
        for label, value in (("error_rate", error_rate), ("merge_error_rate", merge_error_rate),
                             ("fix_rate", fix_rate), ("refine_noise", refine_noise), ("p_max", p_max)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} must be between 0 and 1, got {value}")
        self.error_rate, self.merge_error_rate, self.fix_rate, self.p_max = error_rate, merge_error_rate, fix_rate, p_max
        self.refine_noise = refine_noise
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def fork(self, seed: int | None = None) -> ProgrammaticReasoner:
        clone = ProgrammaticReasoner(self.error_rate, self.merge_error_rate, self.fix_rate, self.refine_noise,
                                     self.p_max, self.seed)
        clone.rng = np.random.default_rng([self.seed, seed if seed is not None else int(self.rng.integers(2**31))])
        return clone

    def mistake_rate(self, task: ThoughtTask, size: int, rate: float) -> float:
        """The per-item mistake probability for a problem of `size` items."""
        return min(self.p_max, rate * size / max(1, task.reference_size))

    def _mistakes(self, task: ThoughtTask, problem: Problem, rate: float) -> int:
        n = max(1, task.size(problem))
        return int(self.rng.binomial(n, self.mistake_rate(task, n, rate)))

    async def solve(self, task: ThoughtTask, problem: Problem, k: int) -> list[Outcome]:
        outs = []
        for _ in range(k):
            self.usage.add()
            solution = task.corrupt(problem, task.exact(problem), self._mistakes(task, problem, self.error_rate), self.rng)
            outs.append(Outcome(solution, task.format_solution(solution)))
        return outs

    async def refine(self, task: ThoughtTask, problem: Problem, solution: Solution, errors: float | None) -> Outcome:
        self.usage.add()
        if errors is None:
            errors = await task.aerrors(problem, solution)
        if errors == 0:
            return Outcome(solution, task.format_solution(solution))
        remaining = int(self.rng.binomial(round(errors), 1.0 - self.fix_rate))
        fresh = self._mistakes(task, problem, self.error_rate * self.refine_noise)
        improved = task.corrupt(problem, task.exact(problem), remaining + fresh, self.rng)
        return Outcome(improved, task.format_solution(improved))

    async def aggregate(self, task: ThoughtTask, problem: Problem, part_problems: Sequence[Problem],
                        part_solutions: Sequence[Solution], k: int) -> list[Outcome]:
        outs = []
        for _ in range(k):
            self.usage.add()
            merged = task.merge(problem, part_solutions)
            merged = task.corrupt(problem, merged, self._mistakes(task, problem, self.merge_error_rate), self.rng)
            outs.append(Outcome(merged, task.format_solution(merged)))
        return outs

    async def decompose(self, task: ThoughtTask, problem: Problem, parts: int) -> list[Problem] | None:
        split = task.split(problem, parts)  # a family that cannot be split raises before any call is counted
        self.usage.add()
        return split
