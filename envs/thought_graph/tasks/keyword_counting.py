"""Keyword counting (Graph of Thoughts): count how often each country is named in a text; the local scorer
sums the differences between the true and the given frequencies."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.envs.thought_graph.task import TaskInstance, ThoughtTask
from agentgym.envs.thought_graph.tasks.common import (
    answer_region,
    as_int,
    chunk,
    find_dicts,
    find_lists,
    parse_answer,
    shorten,
)

__all__ = ["COUNTRIES", "KeywordCountingTask"]

TextProblem = dict[str, Any]
Counts = dict[str, int]

#: the default vocabulary: real country names, none a word-wise part of another
COUNTRIES: tuple[str, ...] = (
    "Argentina", "Australia", "Austria", "Belgium", "Bolivia", "Brazil", "Bulgaria", "Cambodia", "Canada",
    "Chile", "China", "Colombia", "Costa Rica", "Croatia", "Cuba", "Denmark", "Ecuador", "Egypt", "Estonia",
    "Ethiopia", "Finland", "France", "Germany", "Ghana", "Greece", "Hungary", "Iceland", "India", "Indonesia",
    "Ireland", "Israel", "Italy", "Jamaica", "Japan", "Jordan", "Kenya", "Laos", "Lebanon", "Malaysia", "Mexico",
    "Mongolia", "Morocco", "Nepal", "New Zealand", "Norway", "Pakistan", "Peru", "Poland", "Portugal", "Romania",
    "Saudi Arabia", "Senegal", "South Africa", "South Korea", "Spain", "Sri Lanka", "Sweden", "Switzerland",
    "Tanzania", "Thailand", "Tunisia", "Turkey", "United Kingdom", "United States", "Uruguay", "Vietnam",
)

_TRAVELLERS = ("Amara", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Keiko",
               "Luca", "Maya", "Nils", "Olivia", "Pavel")

# story sentences; `{t}` is the traveller, each `{}` one country mention
_TEMPLATES: tuple[str, ...] = (
    "{t} began the long journey with a night flight out of {}.",
    "The first stop was {}, where {t} spent three days walking through old markets.",
    "A slow train carried {t} from {} across the border into {}.",
    "In {} the street food was so good that {t} stayed an extra week.",
    "{t} sent postcards from {}, {} and {} to friends back home.",
    "Nothing compared to the mountains of {} at sunrise.",
    "A ferry ride brought {t} to {}, and a bus continued on to {}.",
    "Locals in {} kept recommending a detour to {}.",
    "{t} learned a few words of the language while staying with a family in {}.",
    "The museums of {} reminded {t} of a school trip to {} years earlier.",
    "Heavy rain in {} forced a change of plans.",
    "On a crowded bus {t} met a cyclist riding all the way from {} to {} and then {}.",
    "The coffee in {} was stronger than anything {t} had tried in {}.",
    "{t} hiked along the coast of {} for almost a week.",
    "A delayed connection meant an unplanned night in {}.",
    "Friends from {} joined {t} for the festival season in {}.",
    "The desert nights of {} were colder than {t} had expected.",
    "After a short visit to {}, {t} flew on to {}.",
)
_FILLERS: tuple[str, ...] = (
    "{t} wrote everything down in a small notebook every evening.",
    "The backpack was getting heavier with every souvenir.",
    "Some days were spent simply resting and reading.",
    "{t} lost a phone charger and had to buy a new one.",
)


@lru_cache(maxsize=64)
def _pattern(vocabulary: tuple[str, ...]) -> re.Pattern[str]:
    # longest names first, so "South Africa" is one mention and not also "Africa"; whole words only
    names = sorted({v for v in vocabulary if v}, key=len, reverse=True)
    if not names:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)")


def count_mentions(text: str, vocabulary: Sequence[str] = COUNTRIES) -> Counts:
    """How often each name of `vocabulary` occurs in `text` as a whole word (case-sensitive), in order of
    first mention; names that do not occur are left out."""
    return dict(Counter(m.group(0) for m in _pattern(tuple(vocabulary)).finditer(text)))


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _counts(value: Any) -> Counts | None:
    """`value` as a `{name: count}` dict (entries whose count is not an integer are dropped)."""
    if not isinstance(value, dict):
        return None
    out = {}
    for key, count in value.items():
        number = as_int(count)
        if isinstance(key, str) and number is not None:
            out[key.strip()] = number
    return out if out or not value else None


class KeywordCountingTask(ThoughtTask):
    """Count the countries named in a text (Graph of Thoughts' keyword counting task).

    Problems are `{"text": ...}`, optionally with `"countries"`, the names that count (the default is
    `COUNTRIES`); solutions are `{country: count}` dicts of the countries named at least once. `errors` sums
    the absolute differences of the counts over all countries (a missing or invented country counts its whole
    frequency). Decomposition splits the text into groups of consecutive sentences.
    """

    name = "keyword_counting"
    reference_size = 16
    decomposable = True

    def vocabulary(self, problem: TextProblem) -> tuple[str, ...]:
        """The country names counted in `problem`."""
        return tuple(problem.get("countries") or COUNTRIES)

    def _with_text(self, problem: TextProblem, text: str) -> TextProblem:
        out: TextProblem = {"text": text}
        if "countries" in problem:
            out["countries"] = list(problem["countries"])
        return out

    # ------------------------------------------------------------------ problems and solutions

    def statement(self, problem: TextProblem) -> str:
        return ("Count how many times each country is explicitly named in the text below. The answer is a JSON "
                "object mapping each country named at least once to its count, spelled as in the text.\n"
                f"Text: {problem['text']}")

    def summary(self, problem: TextProblem) -> str:
        n = len(_sentences(problem["text"]))
        return f"count countries in {n} sentences: {shorten(problem['text'], 60)}"

    def size(self, problem: TextProblem) -> int:
        return max(1, sum(self.exact(problem).values()))

    def format_solution(self, solution: Counts) -> str:
        return json.dumps(dict(solution), ensure_ascii=False)

    def parse_solution(self, text: str) -> Counts | None:
        return parse_answer(text, find_dicts, _counts)

    # ------------------------------------------------------------------ scoring

    def errors(self, problem: TextProblem, solution: Counts) -> float:
        want = self.exact(problem)
        have = _counts(solution) or {}
        return float(sum(abs(want.get(c, 0) - have.get(c, 0)) for c in set(want) | set(have)))

    def check(self, problem: TextProblem, solution: Counts, gold: Counts) -> bool:
        have = _counts(solution)
        if have is None:
            return False
        # a country listed with count 0 says the same as leaving it out
        return {k: v for k, v in have.items() if v} == {k: v for k, v in gold.items() if v}

    # ------------------------------------------------------------------ decomposition

    def split(self, problem: TextProblem, parts: int) -> list[TextProblem]:
        return [self._with_text(problem, " ".join(group)) for group in chunk(_sentences(problem["text"]), parts)]

    def join(self, problem: TextProblem, part_problems: Sequence[TextProblem]) -> TextProblem:
        return self._with_text(problem, " ".join(p["text"] for p in part_problems))

    def merge(self, problem: TextProblem, part_solutions: Sequence[Counts]) -> Counts:
        total: Counts = {}
        for part in part_solutions:
            for country, count in (_counts(part) or {}).items():
                total[country] = total.get(country, 0) + count
        return {k: v for k, v in total.items() if v}

    # ------------------------------------------------------------------ programmatic reasoner

    def exact(self, problem: TextProblem) -> Counts:
        return count_mentions(problem["text"], self.vocabulary(problem))

    def corrupt(self, problem: TextProblem, solution: Counts, mistakes: int, rng: np.random.Generator) -> Counts:
        out = dict(_counts(solution) or {})
        for _ in range(max(0, int(mistakes))):
            self._mistake(problem, out, int(rng.integers(3)), rng)
        if mistakes > 0 and self.errors(problem, out) == 0:
            self._mistake(problem, out, 2, rng)  # an invented country always counts
        return out

    def _mistake(self, problem: TextProblem, out: Counts, kind: int, rng: np.random.Generator) -> None:
        """Apply one mistake in place: 0 miscount by one, 1 forget a country, 2 add one that is not named."""
        keys = list(out)
        if keys and kind == 0:
            key = keys[int(rng.integers(len(keys)))]
            out[key] += 1 if rng.integers(2) else -1
            if out[key] <= 0:
                del out[key]
            return
        if keys and kind == 1:
            del out[keys[int(rng.integers(len(keys)))]]
            return
        named = self.exact(problem)
        absent = [c for c in self.vocabulary(problem) if c not in named and c not in out]
        if absent:
            out[absent[int(rng.integers(len(absent)))]] = 1
        elif keys:
            out[keys[int(rng.integers(len(keys)))]] += 1
        else:
            out["Atlantis"] = 1

    # ------------------------------------------------------------------ prompts

    def solve_prompt(self, problem: TextProblem) -> str:
        return ("Count how many times each country is explicitly named in the text below. Reply with a JSON "
                "object only, mapping every country named at least once to its count, spelled exactly as in the "
                'text, for example {"Peru": 2, "Chile": 1}.\n\n'
                f"Text: {problem['text']}\nOutput:")

    def refine_prompt(self, problem: TextProblem, solution: Counts, errors: float | None) -> str:
        told = "" if errors is None else f" Its counts are off by {errors:g} in total."
        return ("The JSON object below should give how often each country is named in the text, but it may be "
                f"wrong: countries can be missing or invented, and counts can be off.{told} Go through the text "
                "again and reply with the corrected JSON object only.\n\n"
                f"Text: {problem['text']}\nCandidate: {self.format_solution(solution)}\nOutput:")

    def aggregate_prompt(self, problem: TextProblem, part_problems: Sequence[TextProblem],
                         part_solutions: Sequence[Counts]) -> str:
        dicts = "\n".join(f"Part {i + 1}: {self.format_solution(s)}" for i, s in enumerate(part_solutions))
        return (f"The {len(part_solutions)} JSON objects below count the countries named in consecutive parts of "
                "one text. Add them up into a single JSON object with the total count of every country. Reply "
                f"with that JSON object only.\n\n{dicts}\nOutput:")

    def decompose_prompt(self, problem: TextProblem, parts: int) -> str:
        n = len(self.split(problem, parts))
        return (f"Cut the text below into {n} consecutive passages of whole sentences and about equal length, "
                "without changing any words. Reply with a JSON object only, mapping "
                f'"Passage 1" ... "Passage {n}" to the passages.\n\n'
                f"Text: {problem['text']}\nOutput:")

    def parse_parts(self, problem: TextProblem, parts: int, text: str) -> list[TextProblem] | None:
        expected = len(self.split(problem, parts))
        if not isinstance(text, str):
            return None
        found: list[str] = []
        for obj in find_dicts(text, allow_nested=True):
            values = list(obj.values())
            if values and all(isinstance(v, str) and v.strip() for v in values):
                found = [v.strip() for v in values]
        if len(found) < expected:
            # passages written as blank-line separated blocks, perhaps labelled "Passage 1:"
            blocks = re.split(r"\n\s*\n", answer_region(text).strip())
            found = [re.sub(r"^\s*(?:passage|paragraph|part)\s*\d+\s*:\s*", "", b, flags=re.IGNORECASE).strip()
                     for b in blocks]
            found = [b for b in found if b]
        if len(found) < expected:
            return None
        return [self._with_text(problem, t) for t in found[-expected:]]

    # ------------------------------------------------------------------ task sets

    def generate(self, rng: np.random.Generator, size: int) -> TaskInstance:
        """A travel story naming `size` countries in all, some of them repeatedly."""
        size = max(0, int(size))
        traveller = _TRAVELLERS[int(rng.integers(len(_TRAVELLERS)))]
        # a pool smaller than the number of mentions, so countries recur
        pool_size = min(len(COUNTRIES), max(1, (2 * size + 2) // 3))
        pool = [COUNTRIES[int(i)] for i in rng.choice(len(COUNTRIES), size=pool_size, replace=False)]
        by_slots: dict[int, list[str]] = {}
        for template in _TEMPLATES:
            by_slots.setdefault(template.count("{}"), []).append(template)
        sentences, left = [], size
        while left > 0 or not sentences:
            if left == 0 or (sentences and rng.random() < 0.15):
                filler = _FILLERS[int(rng.integers(len(_FILLERS)))]
                sentences.append(filler.format(t=traveller))
                continue
            slots = [k for k in by_slots if k <= left]
            k = slots[int(rng.integers(len(slots)))]
            templates = by_slots[k]
            template = templates[int(rng.integers(len(templates)))]
            # distinct countries within one sentence where the pool allows it
            picks = rng.choice(len(pool), size=k, replace=k > len(pool))
            sentences.append(template.format(*(pool[int(i)] for i in picks), t=traveller))
            left -= k
        problem: TextProblem = {"text": " ".join(sentences)}
        return TaskInstance(problem, self.exact(problem))

    def load_csv(self, path: str | Path) -> list[TaskInstance]:
        """Graph of Thoughts' `countries.csv`: `ID,Text,Countries` where Countries lists the mentions in order
        without quotes (`[Canada, Mexico, Canada]`); the gold is their frequency dict, and the countries of the
        whole file are the names that count."""
        rows = []
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                lists = find_lists(row["Countries"])
                mentions = [str(c).strip() for c in (lists[0] if lists else []) if str(c).strip()]
                rows.append((str(row["ID"]).strip(), row["Text"], mentions))
        vocabulary = sorted({c for _, _, mentions in rows for c in mentions})
        return [TaskInstance({"text": text, "countries": vocabulary}, dict(Counter(mentions)), source_id=row_id)
                for row_id, text, mentions in rows]
