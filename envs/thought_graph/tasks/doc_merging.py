"""Document merging (Graph of Thoughts): merge overlapping documents (NDAs) into one without losing or
repeating information.

Graph of Thoughts scores a merge with an LLM (redundancy and retained information). This scorer is
programmatic: the documents' sentences are normalized and clustered into *facts* (near-duplicate sentences,
token-set Jaccard >= 0.8, are one fact), each sentence of the merge is matched to its closest fact, and the
errors are the facts left out, the facts stated more than once (each extra statement) and the sentences that
match no fact (invented).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.envs.thought_graph.task import TaskInstance, ThoughtTask
from agentgym.envs.thought_graph.tasks.common import chunk, parse_part_lists, shorten

__all__ = ["MATCH_THRESHOLD", "DocMergingTask", "jaccard", "normalize_sentence", "split_sentences"]

DocProblem = dict[str, list[str]]

#: token-set Jaccard similarity from which two sentences state the same fact
MATCH_THRESHOLD = 0.8

# a list marker opening a line or sentence: "1.", "2)", "(a)", "b.", "iv." followed by a space
_MARKER_RE = re.compile(r"^\s*\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]\s+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_NON_WORD_RE = re.compile(r"[^0-9a-z]+")
_MERGED_RE = re.compile(r"<merged>(.*?)(?:</merged>|$)", re.IGNORECASE | re.DOTALL)
_LEADING_LABEL_RE = re.compile(r"^\s*(?:merged\s+document|output|answer)\s*:\s*", re.IGNORECASE)


def _strip_marker(text: str) -> str:
    return _MARKER_RE.sub("", text, count=1).strip()


def split_sentences(text: str) -> list[str]:
    """The sentences of a text: line by line, list markers ("1.", "a)") removed, lines cut after `.`, `!`, `?`;
    pieces with no letters or digits left are dropped."""
    out = []
    for line in str(text).splitlines():
        for piece in _SENTENCE_END_RE.split(_strip_marker(line)):
            sentence = _strip_marker(piece)
            if normalize_sentence(sentence):
                out.append(sentence)
    return out


def normalize_sentence(sentence: str) -> str:
    """Lowercased words and numbers of a sentence, its list marker, punctuation and extra spaces removed."""
    return " ".join(_NON_WORD_RE.sub(" ", _strip_marker(sentence).lower()).split())


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Token-set Jaccard similarity (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _tokens(sentence: str) -> frozenset[str]:
    return frozenset(normalize_sentence(sentence).split())


@dataclass(frozen=True)
class _Facts:
    """The source sentences of a problem (raw text and tokens) and the fact each belongs to."""

    sentences: tuple[str, ...]
    tokens: tuple[frozenset[str], ...]
    fact_of: tuple[int, ...]
    n_facts: int

    def first_sentences(self) -> list[str]:
        """Each fact's first sentence, in the order the facts first appear."""
        seen: dict[int, str] = {}
        for sentence, fact in zip(self.sentences, self.fact_of, strict=True):
            seen.setdefault(fact, sentence)
        return [seen[f] for f in range(self.n_facts)]

    def match(self, sentence: str) -> int | None:
        """The fact whose sentence is closest to `sentence` when at the threshold or above, else None."""
        tokens = _tokens(sentence)
        best, best_fact = 0.0, None
        for source, fact in zip(self.tokens, self.fact_of, strict=True):
            score = jaccard(tokens, source)
            if score > best:
                best, best_fact = score, fact
        return best_fact if best >= MATCH_THRESHOLD else None


@lru_cache(maxsize=256)
def _facts(documents: tuple[str, ...]) -> _Facts:
    sentences = [s for doc in documents for s in split_sentences(doc)]
    tokens = [_tokens(s) for s in sentences]
    fact_of: list[int] = []
    n_facts = 0
    for i, tok in enumerate(tokens):
        # join the fact of the most similar earlier sentence when it is a near-duplicate, else start a new fact
        best, best_fact = 0.0, -1
        for j in range(i):
            score = jaccard(tok, tokens[j])
            if score > best:
                best, best_fact = score, fact_of[j]
        if best >= MATCH_THRESHOLD:
            fact_of.append(best_fact)
        else:
            fact_of.append(n_facts)
            n_facts += 1
    return _Facts(tuple(sentences), tuple(tokens), tuple(fact_of), n_facts)


def _documents(value: Any) -> tuple[str, ...]:
    return tuple(str(d) for d in value)


# ---------------------------------------------------------------------- generation: the clause bank

_SUBJECTS = ("The Receiving Party", "The Disclosing Party", "The Contractor", "The Employee", "Each party",
             "The Company", "The Consultant", "The Licensee", "The Supplier", "The Recipient")
_ACTIONS = (
    "must keep all confidential information secret for {years} years",
    "shall pay a penalty of ${amount} for every breach",
    "may not solicit clients of the other side for {months} months after termination",
    "must return all documents and copies within {days} days of a written request",
    "accepts that this agreement is governed by the laws of {state}",
    "may end the agreement by giving {days} days of written notice",
    "will not open a competing business within {miles} miles of any office",
    "shall limit access to staff members who need to know",
    "must report any suspected leak within {hours} hours",
    "may reveal information only when a court in {state} orders it",
    "keeps ownership of all inventions made before the start date",
    "shall carry liability insurance of at least ${amount}",
    "must store sensitive data on encrypted servers located in {state}",
    "will receive specialized training worth ${amount} free of charge",
    "must repay training costs when leaving within {years} years",
    "shall hold quarterly review meetings in {city}",
    "may transfer its rights only with prior written consent",
    "agrees that amendments are valid only when signed in writing",
    "will destroy backup copies after {months} months",
    "must never reverse engineer prototypes or samples",
    "shall settle disputes through arbitration in {city}",
    "agrees that an invalid provision leaves the remainder in force",
    "will label every confidential document with a visible stamp",
    "may audit compliance records once every {months} months",
    "shall name a compliance officer based in {city}",
    "must encrypt every email that carries pricing data",
    "will keep a signed log of visitors to the laboratory",
    "may publish research results after a review period of {days} days",
)
_QUALIFIERS = ("during the term of the agreement", "unless both parties agree otherwise in writing",
               "from the effective date onwards", "without any exception", "at its own expense",
               "in line with applicable law", "for the whole duration of the project")
_PARAMS = {
    "years": ("two", "three", "five", "seven", "ten"),
    "months": ("6", "9", "12", "18", "24"),
    "days": ("10", "14", "30", "45", "60"),
    "hours": ("24", "48", "72"),
    "miles": ("25", "50", "100"),
    "amount": ("50,000", "120,000", "200,000", "280,000", "500,000"),
    "state": ("California", "Delaware", "New York", "Texas", "Oregon", "Nevada"),
    "city": ("Boston", "Denver", "Seattle", "Chicago", "Austin", "Atlanta"),
}
_MODAL_SWAPS = {"must": "shall", "shall": "must", "will": "shall", "may": "can"}
# what an LLM invents: statements no source document makes
_INVENTED_OPENERS = ("Incidentally", "Moreover", "As a courtesy", "By tradition", "For morale")
_INVENTED_NOUNS = ("lighthouse", "orchestra", "glacier", "bakery", "rowing club", "greenhouse", "observatory")
_INVENTED_VERBS = ("will be repainted", "hosts a picnic", "receives a bonus", "gets a new mascot",
                   "plans a parade")
_DISTINCT_BELOW = 0.5  # generated facts stay far apart, so their small wording variants never cross over


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _clause(rng: np.random.Generator) -> str:
    params = {key: _pick(rng, values) for key, values in _PARAMS.items()}
    first = int(rng.integers(len(_ACTIONS)))
    text = f"{_pick(rng, _SUBJECTS)} {_ACTIONS[first].format(**params)}"
    roll = rng.random()
    if roll < 0.4:
        second = int(rng.integers(len(_ACTIONS) - 1))
        second += second >= first
        text += f" and {_ACTIONS[second].format(**{k: _pick(rng, v) for k, v in _PARAMS.items()})}"
    elif roll < 0.7:
        text += f" {_pick(rng, _QUALIFIERS)}"
    return text + "."


def _variant(rng: np.random.Generator, sentence: str) -> str:
    """The same fact in slightly different words: a lowercase first word or another modal verb."""
    roll = rng.random()
    if roll < 0.35:
        return sentence[:1].lower() + sentence[1:]
    words = sentence.split(" ")
    if roll < 0.65 and len(words) >= 10:
        for i, word in enumerate(words):
            if word in _MODAL_SWAPS:
                words[i] = _MODAL_SWAPS[word]
                return " ".join(words)
    return sentence


class DocMergingTask(ThoughtTask):
    """Merge overlapping documents into one (Graph of Thoughts' document merging task).

    Problems are `{"documents": [text, ...]}`, solutions one merged text. The gold (`exact`) is the canonical
    merge: every fact's first sentence once, in order of first appearance, one sentence per line. See the
    module docstring for the scorer; `retention`, `redundancy` and `f_score` report the same match in Graph
    of Thoughts' terms.
    """

    name = "doc_merging"
    reference_size = 32
    decomposable = True

    def _canonical(self, documents: Sequence[str]) -> str:
        return "\n".join(_facts(_documents(documents)).first_sentences())

    def _matches(self, problem: DocProblem, solution: Any) -> tuple[_Facts, list[str], list[int | None]]:
        facts = _facts(_documents(problem["documents"]))
        sentences = split_sentences(solution) if isinstance(solution, str) else []
        return facts, sentences, [facts.match(s) for s in sentences]

    # ------------------------------------------------------------------ problems and solutions

    def statement(self, problem: DocProblem) -> str:
        return ("Merge the documents below into a single document that keeps every piece of information they "
                "contain, states each piece only once and adds nothing new.\n\n" + self._docs_block(problem))

    def summary(self, problem: DocProblem) -> str:
        docs = problem["documents"]
        first = " ".join(str(docs[0]).split()) if docs else ""
        return f"merge {len(docs)} documents ({self.size(problem)} sentences): {shorten(first, 48)}"

    def size(self, problem: DocProblem) -> int:
        return len(_facts(_documents(problem["documents"])).sentences)

    def format_solution(self, solution: str) -> str:
        text = str(solution)
        # an empty merge (everything dropped) is still an answer: tagged, so that it reads back as ""
        return text if text.strip() else "<Merged></Merged>"

    def parse_solution(self, text: str) -> str | None:
        if not isinstance(text, str):
            return None
        tagged = _MERGED_RE.findall(text)
        if tagged:
            return tagged[-1].strip()
        body = _LEADING_LABEL_RE.sub("", text, count=1).strip()
        return body or None

    # ------------------------------------------------------------------ scoring

    def errors(self, problem: DocProblem, solution: str) -> float:
        facts, _, matched = self._matches(problem, solution)
        counts = [0] * facts.n_facts
        invented = 0
        for fact in matched:
            if fact is None:
                invented += 1
            else:
                counts[fact] += 1
        missing = sum(1 for c in counts if c == 0)
        repeated = sum(c - 1 for c in counts if c > 1)
        return float(missing + repeated + invented)

    def check(self, problem: DocProblem, solution: str, gold: str) -> bool:
        return isinstance(solution, str) and self.errors(problem, solution) == 0

    def baseline_errors(self, problem: DocProblem) -> float:
        return max(1.0, float(_facts(_documents(problem["documents"])).n_facts))

    def retention(self, problem: DocProblem, solution: str) -> float:
        """The share of the documents' facts that the merge states (1.0 when there are none)."""
        facts, _, matched = self._matches(problem, solution)
        if facts.n_facts == 0:
            return 1.0
        return len({f for f in matched if f is not None}) / facts.n_facts

    def redundancy(self, problem: DocProblem, solution: str) -> float:
        """The share of the merge's sentences that repeat a fact already stated (0.0 = no redundancy)."""
        _, sentences, matched = self._matches(problem, solution)
        if not sentences:
            return 0.0
        seen: set[int] = set()
        repeats = 0
        for fact in matched:
            if fact is not None:
                repeats += fact in seen
                seen.add(fact)
        return repeats / len(sentences)

    def f_score(self, problem: DocProblem, solution: str) -> float:
        """The harmonic mean of retention and non-redundancy (1 - redundancy), as Graph of Thoughts combines
        its two LLM scores."""
        kept, unique = self.retention(problem, solution), 1.0 - self.redundancy(problem, solution)
        return 0.0 if kept + unique == 0 else 2 * kept * unique / (kept + unique)

    # ------------------------------------------------------------------ decomposition

    def split(self, problem: DocProblem, parts: int) -> list[DocProblem]:
        return [{"documents": group} for group in chunk(list(problem["documents"]), parts)]

    def join(self, problem: DocProblem, part_problems: Sequence[DocProblem]) -> DocProblem:
        return {"documents": [d for part in part_problems for d in part["documents"]]}

    def merge(self, problem: DocProblem, part_solutions: Sequence[str]) -> str:
        # the partial merges are merged like documents: repeats across parts go, each part's mistakes stay
        return self._canonical([s for s in part_solutions if isinstance(s, str)])

    # ------------------------------------------------------------------ programmatic reasoner

    def exact(self, problem: DocProblem) -> str:
        return self._canonical(problem["documents"])

    def corrupt(self, problem: DocProblem, solution: str, mistakes: int, rng: np.random.Generator) -> str:
        facts, sentences, matched = self._matches(problem, solution)
        counts: dict[int, int] = {}
        for fact in matched:
            if fact is not None:
                counts[fact] = counts.get(fact, 0) + 1
        # each mistake adds exactly one error: drop a fact stated once, repeat a stated fact, or invent one
        for _ in range(max(0, int(mistakes))):
            kind = int(rng.integers(3))
            stated = [(i, f) for i, f in enumerate(matched) if f is not None]
            once = [(i, f) for i, f in stated if counts[f] == 1]
            if kind == 0 and once:
                i, fact = once[int(rng.integers(len(once)))]
                counts[fact] = 0
                del sentences[i], matched[i]
            elif kind <= 1 and stated:
                i, fact = stated[int(rng.integers(len(stated)))]
                counts[fact] += 1
                sentences.insert(i + 1, sentences[i])
                matched.insert(i + 1, fact)
            else:
                at = int(rng.integers(len(sentences) + 1))
                sentences.insert(at, self._invented(facts, rng))
                matched.insert(at, None)
        return "\n".join(sentences)

    @staticmethod
    def _invented(facts: _Facts, rng: np.random.Generator) -> str:
        """A sentence that matches no fact of the documents."""
        for _ in range(20):
            sentence = (f"{_pick(rng, _INVENTED_OPENERS)}, the {_pick(rng, _INVENTED_NOUNS)} "
                        f"{_pick(rng, _INVENTED_VERBS)} in week {int(rng.integers(1, 53))}.")
            if facts.match(sentence) is None:
                return sentence
        return f"Unrelated note {int(rng.integers(10**9))} about zebras and kites."

    # ------------------------------------------------------------------ prompts

    @staticmethod
    def _docs_block(problem: DocProblem) -> str:
        return "\n\n".join(f"<Doc{i + 1}>\n{doc}\n</Doc{i + 1}>" for i, doc in enumerate(problem["documents"]))

    def solve_prompt(self, problem: DocProblem) -> str:
        return (f"Merge the {len(problem['documents'])} documents below into one document. Keep every piece of "
                "information from every document, state each piece only once (drop repetitions even when they "
                "are worded slightly differently) and add nothing that is not in the documents. Write the "
                "merged document between <Merged> and </Merged>.\n\n" + self._docs_block(problem))

    def refine_prompt(self, problem: DocProblem, solution: str, errors: float | None) -> str:
        told = "" if errors is None else f" It has {errors:g} errors (missing, repeated or invented statements)."
        return ("The merged document below should contain every piece of information of the source documents "
                f"exactly once and nothing else, but it may be wrong.{told} Add what is missing, remove "
                "repetitions and anything the sources do not say, and write the improved merged document "
                "between <Merged> and </Merged>.\n\n" + self._docs_block(problem)
                + f"\n\n<Candidate>\n{solution}\n</Candidate>")

    def aggregate_prompt(self, problem: DocProblem, part_problems: Sequence[DocProblem],
                         part_solutions: Sequence[str]) -> str:
        merges = "\n\n".join(f"<Doc{i + 1}>\n{s}\n</Doc{i + 1}>" for i, s in enumerate(part_solutions))
        return (f"The {len(part_solutions)} documents below each merge some of the original documents. Combine "
                "them into one document that keeps every piece of information, states each only once and adds "
                "nothing new. Write it between <Merged> and </Merged>.\n\n" + merges)

    def decompose_prompt(self, problem: DocProblem, parts: int) -> str:
        n = len(self.split(problem, parts))
        return (f"Divide the documents below into {n} groups of consecutive documents of about equal size, to be "
                "merged group by group. Reply with the groups only: one Python list of document numbers per "
                "line, for example [1, 2].\n\n" + self._docs_block(problem))

    def parse_parts(self, problem: DocProblem, parts: int, text: str) -> list[DocProblem] | None:
        docs = list(problem["documents"])
        found = parse_part_lists(text, len(self.split(problem, parts)))
        if found is None or any(not group or not all(1 <= i <= len(docs) for i in group) for group in found):
            return None
        return [{"documents": [docs[i - 1] for i in group]} for group in found]

    # ------------------------------------------------------------------ task sets

    def generate(self, rng: np.random.Generator, size: int) -> TaskInstance:
        """Up to four short NDA-like documents with `size` sentences in all that share some clauses (worded
        slightly differently now and then)."""
        size = max(0, int(size))
        n_docs = max(1, min(4, size))
        n_facts = size if n_docs == 1 else min(size, max(n_docs, math.ceil(0.7 * size)))
        facts: list[str] = []
        fact_tokens: list[frozenset[str]] = []
        attempts = 0
        while len(facts) < n_facts:
            attempts += 1
            clause = _clause(rng)
            tokens = _tokens(clause)
            if attempts > 200 * n_facts or all(jaccard(tokens, t) < _DISTINCT_BELOW for t in fact_tokens):
                facts.append(clause)
                fact_tokens.append(tokens)
        # every fact has a home document (round robin over a shuffled order), the rest are copies elsewhere
        homes = {int(f): i % n_docs for i, f in enumerate(rng.permutation(n_facts))}
        placed: list[set[int]] = [set() for _ in range(n_docs)]
        for fact, doc in homes.items():
            placed[doc].add(fact)
        copies: list[list[tuple[int, str]]] = [[] for _ in range(n_docs)]
        for _ in range(size - n_facts):
            fact = int(rng.integers(n_facts))
            free = [d for d in range(n_docs) if fact not in placed[d]]
            if not free:
                free = [d for d in range(n_docs) if d != homes[fact]] or [homes[fact]]
            doc = free[int(rng.integers(len(free)))]
            placed[doc].add(fact)
            copies[doc].append((fact, _variant(rng, facts[fact])))
        documents = []
        for d in range(n_docs):
            lines = [(f, facts[f]) for f in range(n_facts) if homes[f] == d] + copies[d]
            lines.sort(key=lambda item: item[0])
            documents.append(self._layout(rng, [text for _, text in lines]))
        problem: DocProblem = {"documents": documents}
        return TaskInstance(problem, self.exact(problem))

    @staticmethod
    def _layout(rng: np.random.Generator, sentences: list[str]) -> str:
        """A document's sentences as a numbered list, a lettered list or one paragraph."""
        style = int(rng.integers(3))
        if style == 0:
            return "\n".join(f"{i + 1}. {s}" for i, s in enumerate(sentences))
        if style == 1:
            return "\n".join(f"{chr(ord('a') + i % 26)}) {s}" for i, s in enumerate(sentences))
        return " ".join(sentences)

    def load_csv(self, path: str | Path) -> list[TaskInstance]:
        """Graph of Thoughts' `documents.csv`: `id,problem,document1,...,document4` (quoted multi-line fields);
        the gold is the canonical merge."""
        out = []
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            doc_columns = sorted((c for c in reader.fieldnames or [] if re.fullmatch(r"document\d+", c)),
                                 key=lambda c: int(c[len("document"):]))
            for row in reader:
                problem: DocProblem = {"documents": [row[c] for c in doc_columns if row.get(c)]}
                out.append(TaskInstance(problem, self.exact(problem), source_id=str(row.get("id", "")).strip(),
                                        metadata={"description": row.get("problem", "")}))
        return out
