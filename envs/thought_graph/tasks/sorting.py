"""Sorting (Graph of Thoughts): sort a list of digits 0-9; the local scorer counts miscounted values and
adjacent inversions."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.envs.thought_graph.task import TaskInstance, ThoughtTask
from agentgym.envs.thought_graph.tasks.common import (
    chunk,
    parse_int_list,
    parse_part_lists,
    read_int_list,
    shorten,
)

__all__ = ["SortingTask"]

_DIGITS = 10


def _as_list(solution: Any) -> list[Any] | None:
    return list(solution) if isinstance(solution, list | tuple) else None


class SortingTask(ThoughtTask):
    """Sort a list of digits in ascending order (Graph of Thoughts' sorting task).

    Problems are lists of ints 0-9, solutions lists of ints. `errors` is Graph of Thoughts' scorer: for every
    value, how far its count in the output is from its count in the input, plus the number of adjacent
    inversions of the output.
    """

    name = "sorting"
    reference_size = 32
    decomposable = True

    # ------------------------------------------------------------------ problems and solutions

    def statement(self, problem: list[int]) -> str:
        return (f"Sort the following list of {len(problem)} numbers (digits 0-9) in ascending order, keeping every "
                f"number as many times as it occurs. The answer is the sorted list as a Python list.\n"
                f"Input: {problem}")

    def summary(self, problem: list[int]) -> str:
        return f"sort {len(problem)} numbers: {shorten(str(list(problem)), 48)}"

    def size(self, problem: list[int]) -> int:
        return len(problem)

    def format_solution(self, solution: list[int]) -> str:
        return str(list(solution))

    def parse_solution(self, text: str) -> list[int] | None:
        return parse_int_list(text)

    # ------------------------------------------------------------------ scoring

    def errors(self, problem: list[int], solution: list[int]) -> float:
        out = _as_list(solution)
        if out is None:
            return float(len(problem))
        want, have = Counter(problem), Counter(out)
        miscounted = sum(abs(want[v] - have[v]) for v in set(want) | set(have))
        inversions = 0
        for a, b in pairwise(out):
            try:
                inversions += int(a > b)
            except TypeError:  # a stray non-number in a parsed list: count it as out of order
                inversions += 1
        return float(miscounted + inversions)

    def check(self, problem: list[int], solution: list[int], gold: list[int]) -> bool:
        return _as_list(solution) == list(gold)

    def baseline_errors(self, problem: list[int]) -> float:
        return max(1.0, self.errors(problem, list(problem)))

    # ------------------------------------------------------------------ decomposition

    def split(self, problem: list[int], parts: int) -> list[list[int]]:
        return chunk(problem, parts)

    def join(self, problem: list[int], part_problems: Sequence[list[int]]) -> list[int]:
        return [v for part in part_problems for v in part]

    def merge(self, problem: list[int], part_solutions: Sequence[list[int]]) -> list[int]:
        # a k-way two-pointer merge: it only compares the parts' heads, so disorder inside a part survives
        parts = [list(p) for p in part_solutions if isinstance(p, list | tuple)]
        heads = [0] * len(parts)
        out: list[int] = []
        while True:
            best = -1
            for i, part in enumerate(parts):
                if heads[i] < len(part) and (best < 0 or part[heads[i]] < parts[best][heads[best]]):
                    best = i
            if best < 0:
                return out
            out.append(parts[best][heads[best]])
            heads[best] += 1

    # ------------------------------------------------------------------ programmatic reasoner

    def exact(self, problem: list[int]) -> list[int]:
        return sorted(problem)

    def corrupt(self, problem: list[int], solution: list[int], mistakes: int,
                rng: np.random.Generator) -> list[int]:
        out = list(solution)
        for _ in range(max(0, int(mistakes))):
            self._mistake(out, int(rng.integers(4)), rng)
        if mistakes > 0 and self.errors(problem, out) == 0:
            # later mistakes undid earlier ones (a duplicate then a drop of the copy): a duplicate always counts
            self._mistake(out, 2, rng)
        return out

    @staticmethod
    def _mistake(out: list[int], kind: int, rng: np.random.Generator) -> None:
        """Apply one mistake in place: 0 swap neighbours, 1 drop, 2 duplicate, 3 replace a value."""
        if not out:
            out.append(int(rng.integers(_DIGITS)))
            return
        if kind == 0:
            ascending = [i for i in range(len(out) - 1) if out[i] < out[i + 1]]
            if ascending:
                i = ascending[int(rng.integers(len(ascending)))]
                out[i], out[i + 1] = out[i + 1], out[i]
                return
            kind = 2  # nothing to swap into disorder (all equal): duplicate instead
        i = int(rng.integers(len(out)))
        if kind == 1:
            del out[i]
        elif kind == 2:
            out.insert(i, out[i])
        else:
            other = int(rng.integers(_DIGITS - 1))
            out[i] = other if other < out[i] else other + 1

    # ------------------------------------------------------------------ prompts

    def solve_prompt(self, problem: list[int]) -> str:
        return ("Sort the list of numbers below in ascending order. Every number must appear in the result exactly "
                "as many times as in the input. Reply with the sorted list only, written as a Python list "
                "(for example [0, 1, 1, 5]).\n\n"
                f"Input: {problem}\nOutput:")

    def refine_prompt(self, problem: list[int], solution: list[int], errors: float | None) -> str:
        told = "" if errors is None else f" It has {errors:g} errors (miscounted numbers plus neighbours out of order)."
        return ("The candidate below should be the input list sorted in ascending order, but it may be wrong: "
                f"numbers can be missing, repeated too often or out of order.{told} Compare it with the input "
                "and reply with the corrected sorted list only, as a Python list.\n\n"
                f"Input: {problem}\nCandidate: {self.format_solution(solution)}\nOutput:")

    def aggregate_prompt(self, problem: list[int], part_problems: Sequence[list[int]],
                         part_solutions: Sequence[list[int]]) -> str:
        lists = "\n".join(f"List {i + 1}: {self.format_solution(s)}" for i, s in enumerate(part_solutions))
        return (f"Merge the {len(part_solutions)} sorted lists below into one list sorted in ascending order that "
                "contains every number of every list (keep repeated numbers). Reply with the merged list only, "
                f"as a Python list.\n\n{lists}\nOutput:")

    def decompose_prompt(self, problem: list[int], parts: int) -> str:
        n = len(self.split(problem, parts))
        return (f"Cut the list of numbers below into {n} consecutive sublists of (nearly) equal length. Do not "
                "reorder, drop or add numbers. Reply with the sublists only, one Python list per line.\n\n"
                f"Input: {problem}\nOutput:")

    def parse_parts(self, problem: list[int], parts: int, text: str) -> list[list[int]] | None:
        found = parse_part_lists(text, len(self.split(problem, parts)))
        if found is None or any(not 0 <= v < _DIGITS for part in found for v in part):
            return None
        return found

    # ------------------------------------------------------------------ task sets

    def generate(self, rng: np.random.Generator, size: int) -> TaskInstance:
        problem = [int(v) for v in rng.integers(0, _DIGITS, size=max(0, int(size)))]
        return TaskInstance(problem, self.exact(problem))

    def load_csv(self, path: str | Path) -> list[TaskInstance]:
        """Graph of Thoughts' sorting files: `ID,Unsorted,Sorted` with Python-list strings."""
        out = []
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                problem = read_int_list(row["Unsorted"])
                gold = read_int_list(row["Sorted"]) if row.get("Sorted") else self.exact(problem)
                out.append(TaskInstance(problem, gold, source_id=str(row["ID"]).strip()))
        return out

