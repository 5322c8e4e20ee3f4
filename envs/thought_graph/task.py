"""`ThoughtTask`: what a Graph-of-Thoughts task family must say for the thought-graph env to run it.

A task family (sorting, set intersection, keyword counting, document merging, HumanEval) defines:

- its **problems** and **solutions** as JSON-able values (a list of digits and the sorted list; two sets and
  their intersection; a text and a `{country: count}` dict; documents and a merged text; a HumanEval record and
  code), how to show them and how to read a solution back from a model's text;
- the **scorer** (`errors`: Graph of Thoughts' local error count, 0 for a perfect solution, lower is better)
  and the exact **checker** of a final answer against the gold;
- **decomposition**: how a problem splits into part problems and how the parts' solutions merge back (the
  exact procedures, which keep the parts' mistakes: merging two badly sorted lists gives a badly sorted list);
- the exact solution and `corrupt`, which `ProgrammaticReasoner` combines into an LLM-like solver whose
  mistakes grow with the problem's `size`;
- the **prompts** and parsers an LLM reasoner uses (`solve_prompt`, `refine_prompt`, `aggregate_prompt`,
  `decompose_prompt` / `parse_parts`);
- **task sets**: seeded generation (`generate`) and loading Graph of Thoughts' own CSV files (`load_csv`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentgym.tool import ToolArgumentError

__all__ = ["TaskInstance", "ThoughtTask", "UnsupportedOperation"]

Problem = Any
Solution = Any


class UnsupportedOperation(ToolArgumentError):
    """The task family does not support this transformation (or file format); inside an episode the policy
    reads the message as the action's result."""


@dataclass
class TaskInstance:
    """One problem of a task family with its gold solution (and the source row id when loaded from a file)."""

    problem: Problem
    gold: Solution
    source_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class ThoughtTask(ABC):
    """A task family for `ThoughtGraphEnv` (see the module docstring for what each part is for)."""

    #: the family's name, used in env ids and task ids ("sorting", "set_intersection", ...)
    name: str = "task"
    #: the `size` at which `ProgrammaticReasoner`'s per-item error rate equals its `error_rate`
    reference_size: int = 32
    #: whether `decompose` / `aggregate` make sense for this family
    decomposable: bool = True

    # ------------------------------------------------------------------ problems and solutions

    @abstractmethod
    def statement(self, problem: Problem) -> str:
        """The whole problem for the policy's first message (what to solve and the input in full)."""

    @abstractmethod
    def summary(self, problem: Problem) -> str:
        """A one-line view of a (sub-)problem for the graph rendering, e.g. `sort 16 numbers [3, 1, ...]`."""

    @abstractmethod
    def size(self, problem: Problem) -> int:
        """How hard the problem is for a reasoner, in items (numbers to sort, sentences to read ...)."""

    @abstractmethod
    def format_solution(self, solution: Solution) -> str:
        """A solution as text (what a model would write; `parse_solution` reads it back)."""

    @abstractmethod
    def parse_solution(self, text: str) -> Solution | None:
        """Read a solution from a model's reply (tolerant of surrounding prose); None if there is none."""

    def short_solution(self, solution: Solution, limit: int = 120) -> str:
        """A solution shortened for the graph rendering."""
        text = self.format_solution(solution)
        return text if len(text) <= limit else text[: limit - 3] + "..."

    # ------------------------------------------------------------------ scoring

    @abstractmethod
    def errors(self, problem: Problem, solution: Solution) -> float:
        """Graph of Thoughts' local scorer: the number of errors of `solution` for `problem` (0 = perfect)."""

    @abstractmethod
    def check(self, problem: Problem, solution: Solution, gold: Solution) -> bool:
        """The exact checker of a final answer: does `solution` equal the gold?"""

    def baseline_errors(self, problem: Problem) -> float:
        """The errors of doing nothing (e.g. the unsorted input), used to normalize progress shaping."""
        return max(1.0, float(self.size(problem)))

    async def aerrors(self, problem: Problem, solution: Solution) -> float:
        """`errors` for scorers that run code (HumanEval's tests in the sandbox); by default the sync one."""
        return self.errors(problem, solution)

    async def acheck(self, problem: Problem, solution: Solution, gold: Solution) -> bool:
        """`check` for checkers that run code; by default the sync one."""
        return self.check(problem, solution, gold)

    # ------------------------------------------------------------------ decomposition (exact procedures)

    def split(self, problem: Problem, parts: int) -> list[Problem]:
        """Split a problem into `parts` part problems (contiguous and as equal as possible)."""
        raise UnsupportedOperation(f"{self.name} problems cannot be decomposed")

    def join(self, problem: Problem, part_problems: Sequence[Problem]) -> Problem:
        """The problem that a union of some of `problem`'s parts poses (e.g. the concatenated sublists)."""
        raise UnsupportedOperation(f"{self.name} problems cannot be decomposed")

    def merge(self, problem: Problem, part_solutions: Sequence[Solution]) -> Solution:
        """Merge parts' solutions into a solution of `problem` the way a careful merger would, keeping the
        parts' mistakes (a two-pointer merge of sorted lists, a union of partial intersections, summed
        counts ...)."""
        raise UnsupportedOperation(f"{self.name} problems cannot be decomposed")

    # ------------------------------------------------------------------ a programmatic reasoner's ingredients

    @abstractmethod
    def exact(self, problem: Problem) -> Solution:
        """The correct solution of a (sub-)problem."""

    @abstractmethod
    def corrupt(self, problem: Problem, solution: Solution, mistakes: int, rng: np.random.Generator) -> Solution:
        """`solution` with `mistakes` random mistakes of the kinds an LLM makes on this task (each adds
        about one to `errors`)."""

    # ------------------------------------------------------------------ prompts for an LLM reasoner

    @abstractmethod
    def solve_prompt(self, problem: Problem) -> str:
        """Ask for a solution of `problem` (the answer in the format `parse_solution` reads)."""

    @abstractmethod
    def refine_prompt(self, problem: Problem, solution: Solution, errors: float | None) -> str:
        """Ask for an improved solution, given the current one and its error count."""

    def aggregate_prompt(self, problem: Problem, part_problems: Sequence[Problem],
                         part_solutions: Sequence[Solution]) -> str:
        """Ask to merge the parts' solutions into one solution of `problem`."""
        raise UnsupportedOperation(f"{self.name} problems cannot be aggregated")

    def decompose_prompt(self, problem: Problem, parts: int) -> str:
        """Ask to split `problem` into `parts` part problems."""
        raise UnsupportedOperation(f"{self.name} problems cannot be decomposed")

    def parse_parts(self, problem: Problem, parts: int, text: str) -> list[Problem] | None:
        """Read the part problems from a model's reply to `decompose_prompt`; None if unusable."""
        raise UnsupportedOperation(f"{self.name} problems cannot be decomposed")

    # ------------------------------------------------------------------ task sets

    @abstractmethod
    def generate(self, rng: np.random.Generator, size: int) -> TaskInstance:
        """A random problem of the given size (seeded by `rng`) with its gold solution."""

    def load_csv(self, path: str | Path) -> list[TaskInstance]:
        """Problems from a file in Graph of Thoughts' own CSV format for this family."""
        raise UnsupportedOperation(f"{self.name} has no file format")

    # ------------------------------------------------------------------ JSON

    def to_json(self, problem: Problem) -> Any:
        """A JSON-able copy of a problem (for `info` and trajectories); problems are JSON-able by default."""
        return problem
