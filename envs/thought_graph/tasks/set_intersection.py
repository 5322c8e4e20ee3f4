"""Set intersection (Graph of Thoughts): intersect two sets of integers; the local scorer counts missing,
extra and repeated elements."""

from __future__ import annotations

import csv
from collections.abc import Sequence
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

__all__ = ["SetIntersectionTask"]

SetProblem = dict[str, list[int]]


def _as_list(solution: Any) -> list[Any] | None:
    return list(solution) if isinstance(solution, list | tuple) else None


class SetIntersectionTask(ThoughtTask):
    """Intersect two sets of integers (Graph of Thoughts' set intersection task).

    Problems are `{"set1": [...], "set2": [...]}`, solutions sorted lists of ints. Decomposition scans `set2`
    in contiguous parts against the whole `set1`, so `size` is the length of `set2`. `errors` counts the
    elements of the exact intersection that are missing, the extra elements and the repeated entries.
    """

    name = "set_intersection"
    reference_size = 32
    decomposable = True

    # ------------------------------------------------------------------ problems and solutions

    def statement(self, problem: SetProblem) -> str:
        return ("Find the intersection of the two sets of integers below: every number that occurs in both. "
                "The answer is the intersection as a Python list in ascending order, without repeats.\n"
                f"Set 1: {problem['set1']}\nSet 2: {problem['set2']}")

    def summary(self, problem: SetProblem) -> str:
        set1, set2 = problem["set1"], problem["set2"]
        return (f"intersect {len(set1)} & {len(set2)} numbers: {shorten(str(list(set1)), 28)} "
                f"& {shorten(str(list(set2)), 28)}")

    def size(self, problem: SetProblem) -> int:
        return len(problem["set2"])

    def format_solution(self, solution: list[int]) -> str:
        return str(list(solution))

    def parse_solution(self, text: str) -> list[int] | None:
        return parse_int_list(text)

    # ------------------------------------------------------------------ scoring

    def errors(self, problem: SetProblem, solution: list[int]) -> float:
        want = set(self.exact(problem))
        out = _as_list(solution)
        if out is None:
            return float(len(want))
        try:
            have = set(out)
        except TypeError:  # unhashable junk in a parsed list
            return float(len(want) + len(out))
        return float(len(want - have) + len(have - want) + len(out) - len(have))

    def check(self, problem: SetProblem, solution: list[int], gold: list[int]) -> bool:
        out = _as_list(solution)
        if out is None:
            return False
        try:
            return len(set(out)) == len(out) and sorted(set(out)) == sorted(gold)
        except TypeError:
            return False

    def baseline_errors(self, problem: SetProblem) -> float:
        return max(1.0, float(len(self.exact(problem))))

    # ------------------------------------------------------------------ decomposition

    def split(self, problem: SetProblem, parts: int) -> list[SetProblem]:
        return [{"set1": list(problem["set1"]), "set2": part} for part in chunk(problem["set2"], parts)]

    def join(self, problem: SetProblem, part_problems: Sequence[SetProblem]) -> SetProblem:
        return {"set1": list(problem["set1"]), "set2": [v for part in part_problems for v in part["set2"]]}

    def merge(self, problem: SetProblem, part_solutions: Sequence[list[int]]) -> list[int]:
        union: set[int] = set()
        for part in part_solutions:
            union.update(v for v in (_as_list(part) or []) if isinstance(v, int))
        return sorted(union)

    # ------------------------------------------------------------------ programmatic reasoner

    def exact(self, problem: SetProblem) -> list[int]:
        return sorted(set(problem["set1"]) & set(problem["set2"]))

    def corrupt(self, problem: SetProblem, solution: list[int], mistakes: int,
                rng: np.random.Generator) -> list[int]:
        out = list(solution)
        for _ in range(max(0, int(mistakes))):
            self._mistake(problem, out, bool(rng.integers(2)), rng)
        if mistakes > 0 and self.errors(problem, out) == 0:
            self._mistake(problem, out, False, rng)  # an extra element always counts
        return sorted(out)

    def _mistake(self, problem: SetProblem, out: list[int], drop: bool, rng: np.random.Generator) -> None:
        """Apply one mistake in place: drop a correct element, or add one that is not in the intersection."""
        want = set(self.exact(problem))
        if drop:
            present = [v for v in out if v in want]
            if present:
                out.remove(present[int(rng.integers(len(present)))])
                return
        have = set(out)
        wrong = sorted((set(problem["set1"]) | set(problem["set2"])) - want - have)
        if wrong:
            out.append(wrong[int(rng.integers(len(wrong)))])
        else:  # every number of both sets is already there: invent one beyond them
            out.append(max([*problem["set1"], *problem["set2"], *out, -1]) + 1)

    # ------------------------------------------------------------------ prompts

    def solve_prompt(self, problem: SetProblem) -> str:
        return ("Find every number that occurs in both sets below. Reply with the common numbers only, in "
                "ascending order and without repeats, as a Python list (an empty intersection is []).\n\n"
                f"Set 1: {problem['set1']}\nSet 2: {problem['set2']}\nOutput:")

    def refine_prompt(self, problem: SetProblem, solution: list[int], errors: float | None) -> str:
        told = "" if errors is None else f" It has {errors:g} errors (missing, extra or repeated numbers)."
        return ("The candidate below should list every number common to both sets, but it may be wrong: "
                f"common numbers can be missing, and numbers outside one of the sets or repeats can be present."
                f"{told} Check each number and reply with the corrected intersection only, in ascending order, "
                "as a Python list.\n\n"
                f"Set 1: {problem['set1']}\nSet 2: {problem['set2']}\n"
                f"Candidate: {self.format_solution(solution)}\nOutput:")

    def aggregate_prompt(self, problem: SetProblem, part_problems: Sequence[SetProblem],
                         part_solutions: Sequence[list[int]]) -> str:
        lists = "\n".join(f"List {i + 1}: {self.format_solution(s)}" for i, s in enumerate(part_solutions))
        return (f"The {len(part_solutions)} lists below are the intersections of set 1 with consecutive pieces of "
                "set 2. Combine them into one list holding every number that is in any of them, in ascending "
                f"order and without repeats. Reply with that list only, as a Python list.\n\n{lists}\nOutput:")

    def decompose_prompt(self, problem: SetProblem, parts: int) -> str:
        n = len(self.split(problem, parts))
        return (f"Cut the list below into {n} consecutive sublists of (nearly) equal length. Do not reorder, "
                "drop or add numbers. Reply with the sublists only, one Python list per line.\n\n"
                f"Input: {problem['set2']}\nOutput:")

    def parse_parts(self, problem: SetProblem, parts: int, text: str) -> list[SetProblem] | None:
        found = parse_part_lists(text, len(self.split(problem, parts)))
        if found is None:
            return None
        return [{"set1": list(problem["set1"]), "set2": part} for part in found]

    # ------------------------------------------------------------------ task sets

    def generate(self, rng: np.random.Generator, size: int) -> TaskInstance:
        """Two sets of `size` distinct numbers drawn from range(2 * size), as Graph of Thoughts does."""
        size = max(0, int(size))
        set1 = [int(v) for v in rng.choice(2 * size, size=size, replace=False)] if size else []
        set2 = [int(v) for v in rng.choice(2 * size, size=size, replace=False)] if size else []
        problem = {"set1": set1, "set2": set2}
        return TaskInstance(problem, self.exact(problem))

    def load_csv(self, path: str | Path) -> list[TaskInstance]:
        """Graph of Thoughts' set intersection files: `ID,SET1,SET2,INTERSECTION` with Python-list strings."""
        out = []
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                problem = {"set1": read_int_list(row["SET1"]), "set2": read_int_list(row["SET2"])}
                gold = sorted(read_int_list(row["INTERSECTION"])) if row.get("INTERSECTION") else self.exact(problem)
                out.append(TaskInstance(problem, gold, source_id=str(row["ID"]).strip()))
        return out
