"""Multi-hop questions over a synthetic knowledge base, with exact gold answers and supporting documents.

A question of `h` hops starts at one named entity and follows `h` relations; only the first entity is
named, so every hop needs the document of the entity reached so far. The last hop may ask for an
attribute (a year, a population, a currency) instead of an entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from agentgym.envs.search.kb import RELATIONS_BY_NAME, RELATIONS_FROM, KnowledgeBase, Relation

_ENTITY_QUESTION = {"person": "Who is {np}?", "city": "What is {np}?", "country": "What is {np}?",
                    "org": "What is {np}?", "book": "What is {np}?"}


@dataclass(frozen=True)
class Question:
    """A generated question with everything needed to grade it and to follow its reasoning chain."""

    question: str
    answers: tuple[str, ...]
    gold_doc_ids: tuple[str, ...]
    gold_titles: tuple[str, ...]
    relations: tuple[str, ...]
    hops: int


def _aliases(kb: KnowledgeBase, relation: Relation, value: int | str) -> tuple[str, ...]:
    if isinstance(value, int):
        name = kb.entities[value].name
        return (name,)
    if relation.name == "population":
        return (value, value.replace(",", ""))
    return (value,)


def make_question(kb: KnowledgeBase, rng: np.random.Generator, hops: int, attribute_rate: float = 0.3,
                  max_tries: int = 200) -> Question:
    """A random `hops`-hop question (1 to 4) over `kb` that never visits an entity twice."""
    if not 1 <= hops <= 4:
        raise ValueError("hops must be between 1 and 4")
    n = len(kb.entities)
    for _ in range(max_tries):
        start = int(rng.integers(n))
        path: list[int] = [start]
        rels: list[Relation] = []
        ok = True
        for h in range(hops):
            current = kb.entities[path[-1]]
            options = RELATIONS_FROM[current.kind]
            last = h == hops - 1
            attr = last and rng.random() < attribute_rate
            choices = [r for r in options if (r.target is None) == attr]
            rel = choices[int(rng.integers(len(choices)))]
            if rel.target is not None:
                nxt = current.facts[rel.name]
                assert isinstance(nxt, int)
                if nxt in path:
                    ok = False
                    break
                path.append(nxt)
            rels.append(rel)
        if ok:
            return _render(kb, path, rels)
    raise RuntimeError("could not sample a question without cycles; the knowledge base is too small")


def _render(kb: KnowledgeBase, path: Sequence[int], rels: Sequence[Relation]) -> Question:
    start = kb.entities[path[0]]
    np_text = start.name
    for rel in rels[:-1]:
        np_text = rel.phrase.format(x=np_text)
    final = rels[-1]
    if final.target is None:
        question = final.question.format(x=np_text)
        value: int | str = kb.entities[path[-1]].facts[final.name]
    else:
        question = _ENTITY_QUESTION[final.target].format(np=final.phrase.format(x=np_text))
        value = path[-1]
    question = question[0].upper() + question[1:]
    subjects = [kb.entities[i] for i in path[: len(rels)]]
    return Question(
        question=question,
        answers=_aliases(kb, final, value),
        gold_doc_ids=tuple(e.doc_id for e in subjects),
        gold_titles=tuple(e.name for e in subjects),
        relations=tuple(r.name for r in rels),
        hops=len(rels),
    )


def relation(name: str) -> Relation:
    """A relation by name."""
    return RELATIONS_BY_NAME[name]
