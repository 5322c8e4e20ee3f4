"""A synthetic knowledge base of fictional entities, rendered as short encyclopedia-style documents.

People, cities, countries, organizations and books get invented names (built from syllables, so no
model has seen them) and functional relations: every person has one birthplace, one employer and one
mentor; every city lies in one country, and so on. Each entity becomes one document that states its facts
in fixed sentence templates. The knowledge base is a pure function of its `KBConfig`.

The `distractors` knob sets how many other people (and organizations) share each name word: with more,
a query for a name matches more look-alike documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from agentgym.tools.search.base import Document

ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "pr", "r", "s", "st",
          "t", "tr", "v", "z", "th", "sh", "ch", "j", "w", "sk", "qu"]
VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "ia", "y"]
CODAS = ["", "", "n", "r", "l", "s", "th", "m", "x", "nd", "rk", "v"]
OCCUPATIONS = ["cartographer", "glassblower", "astronomer", "botanist", "composer", "shipwright", "archivist",
               "physician", "engraver", "mathematician", "weaver", "architect", "chemist", "poet", "linguist"]
ORG_KINDS = ["Institute", "Company", "Guild", "Foundry", "Collective", "Press", "Works", "Society", "Bank",
             "Observatory"]
BOOK_NOUNS = ["Lantern", "Orchard", "Tide", "Archive", "Compass", "Harbor", "Ledger", "Garden", "Mirror",
              "Atlas", "Bell", "Citadel"]
KIND_SHARES = {"country": 0.02, "city": 0.13, "org": 0.15, "book": 0.15}  # people take the rest


@dataclass(frozen=True)
class Relation:
    """A functional relation (or attribute, when `target` is None) and how it is written.

    `sentence` renders the fact in a document ({s}: subject, {o}: object); `phrase` is a noun phrase for
    the object given a description {x} of the subject; `question` asks for an attribute directly.
    """

    name: str
    source: str
    target: str | None
    sentence: str
    phrase: str = ""
    question: str = ""


RELATIONS: tuple[Relation, ...] = (
    Relation("born_in", "person", "city", "{s} is a native of {o}.", "the city where {x} was born"),
    Relation("employer", "person", "org", "{s} works for {o}.", "the organization that {x} works for"),
    Relation("mentor", "person", "person", "{s} studied under {o}.", "the mentor of {x}"),
    Relation("birth_year", "person", None, "{s} was born in the year {o}.", question="In what year was {x} born?"),
    Relation("founder", "org", "person", "{s} was founded by {o}.", "the founder of {x}"),
    Relation("headquarters", "org", "city", "{s} is headquartered in {o}.", "the city where {x} is headquartered"),
    Relation("founded_year", "org", None, "{s} was established in {o}.", question="In what year was {x} established?"),
    Relation("country", "city", "country", "{s} is a city in {o}.", "the country where {x} lies"),
    Relation("mayor", "city", "person", "The mayor of {s} is {o}.", "the mayor of {x}"),
    Relation("population", "city", None, "{s} has a population of {o}.", question="What is the population of {x}?"),
    Relation("capital", "country", "city", "The capital of {s} is {o}.", "the capital of {x}"),
    Relation("leader", "country", "person", "{s} is led by {o}.", "the leader of {x}"),
    Relation("currency", "country", None, "The currency of {s} is the {o}.", question="What is the currency of {x}?"),
    Relation("author", "book", "person", "{s} is a novel written by {o}.", "the author of {x}"),
    Relation("publisher", "book", "org", "{s} was published by {o}.", "the publisher of {x}"),
    Relation("published_year", "book", None, "{s} was first published in {o}.",
             question="In what year was {x} first published?"),
)
RELATIONS_BY_NAME = {r.name: r for r in RELATIONS}
RELATIONS_FROM = {kind: [r for r in RELATIONS if r.source == kind] for kind in ("person", "org", "city", "country", "book")}
INTRO = {
    "person": "{s} is {occupation}.",
    "org": "{s} is an organization.",
    "city": "{s} is a city.",
    "country": "{s} is a country.",
    "book": "{s} is a book.",
}


@dataclass(frozen=True)
class KBConfig:
    """What a knowledge base is made of.

    Attributes:
        n_docs: number of entities, hence of documents (at least 50).
        distractors: how many other people/organizations share each name word (0 = all unique words).
        seed: the generator's seed.
    """

    n_docs: int = 5_000
    distractors: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_docs < 50:
            raise ValueError("a knowledge base needs n_docs >= 50")
        if self.distractors < 0:
            raise ValueError("distractors must be >= 0")


@dataclass
class Entity:
    """One fictional entity with its facts (relation name -> entity index, or attribute text)."""

    index: int
    kind: str
    name: str
    doc_id: str
    occupation: str = ""
    facts: dict[str, int | str] = field(default_factory=dict)


@dataclass
class KnowledgeBase:
    """Entities, their documents, and lookups by kind."""

    config: KBConfig
    entities: list[Entity]
    by_kind: dict[str, list[int]]

    def object_name(self, entity: Entity, relation: str) -> str:
        """The fact's object as text: the target entity's name, or the attribute value."""
        value = entity.facts[relation]
        return self.entities[value].name if isinstance(value, int) else value

    def document(self, entity: Entity) -> Document:
        """The encyclopedia-style document of an entity."""
        sentences = [INTRO[entity.kind].format(s=entity.name, occupation=entity.occupation)]
        for rel in RELATIONS_FROM[entity.kind]:
            sentences.append(rel.sentence.format(s=entity.name, o=self.object_name(entity, rel.name)))
        return Document(entity.doc_id, entity.name, " ".join(sentences))

    def documents(self) -> list[Document]:
        return [self.document(e) for e in self.entities]


def extract_fact(text: str, subject: str, relation: str) -> str | None:
    """Read the object of `relation` for `subject` back out of a document text (None when absent)."""
    template = re.escape(RELATIONS_BY_NAME[relation].sentence)
    pattern = template.replace(re.escape("{s}"), re.escape(subject)).replace(re.escape("{o}"), r"(.+?)")
    m = re.search(r"(?:^|(?<=\. ))" + pattern + r"(?= |$)", text)
    return m.group(1) if m else None


class _Namer:
    """Unique invented words whose stems differ, so that no two names collide in a BM25 index."""

    def __init__(self, rng: np.random.Generator) -> None:
        import Stemmer

        self.rng = rng
        self.stem = Stemmer.Stemmer("english").stemWord
        self.stems: set[str] = set()

    def words(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            batch = max(64, 2 * (n - len(out)))
            syll = np.where(self.rng.random(batch) < 0.8, 2, 3)
            on = self.rng.integers(len(ONSETS), size=(batch, 3))
            vo = self.rng.integers(len(VOWELS), size=(batch, 3))
            co = self.rng.integers(len(CODAS), size=(batch, 3))
            for i in range(batch):
                w = "".join(ONSETS[on[i, j]] + VOWELS[vo[i, j]] + CODAS[co[i, j]] for j in range(syll[i]))
                s = self.stem(w)
                if len(w) < 4 or len(w) > 11 or s in self.stems:
                    continue
                self.stems.add(s)
                out.append(w.capitalize())
                if len(out) == n:
                    break
        return out


def _counts(n: int) -> dict[str, int]:
    counts = {k: max(3, int(n * share)) for k, share in KIND_SHARES.items()}
    counts["person"] = n - sum(counts.values())
    return counts


def _people_names(namer: _Namer, rng: np.random.Generator, n: int, distractors: int) -> list[str]:
    pool = max(2, int(np.ceil(n / (1 + distractors))))
    given, family = namer.words(pool), namer.words(pool)
    names: list[str] = []
    seen: set[tuple[int, int]] = set()
    for i in range(n):
        if distractors == 0:
            pair = (i, i)
        else:
            pair = (int(rng.integers(pool)), int(rng.integers(pool)))
            while pair in seen:
                pair = (int(rng.integers(pool)), int(rng.integers(pool)))
        seen.add(pair)
        names.append(f"{given[pair[0]]} {family[pair[1]]}")
    return names


def _org_names(namer: _Namer, rng: np.random.Generator, n: int, distractors: int) -> list[str]:
    pool = max(1, int(np.ceil(n / (1 + distractors))))
    while pool * len(ORG_KINDS) < n:
        pool += 1
    words = namer.words(pool)
    pairs = [(w, k) for w in range(pool) for k in range(len(ORG_KINDS))]
    picked = rng.choice(len(pairs), size=n, replace=False)
    return [f"{words[pairs[p][0]]} {ORG_KINDS[pairs[p][1]]}" for p in picked]


@lru_cache(maxsize=8)
def build_kb(config: KBConfig) -> KnowledgeBase:
    """Generate the knowledge base of `config` (cached: the same config returns the same object)."""
    rng = np.random.default_rng([config.seed, 0x5EA2C4])
    namer = _Namer(rng)
    counts = _counts(config.n_docs)
    names = {
        "country": namer.words(counts["country"]),
        "city": namer.words(counts["city"]),
        "org": _org_names(namer, rng, counts["org"], config.distractors),
        "book": [f"The {w} {BOOK_NOUNS[int(rng.integers(len(BOOK_NOUNS)))]}" for w in namer.words(counts["book"])],
        "person": _people_names(namer, rng, counts["person"], config.distractors),
    }
    currencies = namer.words(counts["country"])
    entities: list[Entity] = []
    by_kind: dict[str, list[int]] = {}
    for kind in ("person", "org", "city", "country", "book"):
        for name in names[kind]:
            i = len(entities)
            entities.append(Entity(i, kind, name, f"kb-{i:06d}"))
            by_kind.setdefault(kind, []).append(i)
    people = np.asarray(by_kind["person"])

    def pick(kind: str, exclude: int = -1) -> int:
        pool = by_kind[kind]
        while True:
            j = pool[int(rng.integers(len(pool)))]
            if j != exclude:
                return j

    for e in entities:
        if e.kind == "person":
            job = OCCUPATIONS[int(rng.integers(len(OCCUPATIONS)))]
            e.occupation = ("an " if job[0] in "aeiou" else "a ") + job
            e.facts = {"born_in": pick("city"), "employer": pick("org"), "mentor": pick("person", e.index),
                       "birth_year": str(int(rng.integers(1700, 2000)))}
        elif e.kind == "org":
            e.facts = {"founder": pick("person"), "headquarters": pick("city"),
                       "founded_year": str(int(rng.integers(1500, 2000)))}
        elif e.kind == "city":
            e.facts = {"country": pick("country"), "mayor": pick("person"),
                       "population": f"{int(rng.integers(1_000, 2_000_000)):,}"}
        elif e.kind == "book":
            e.facts = {"author": pick("person"), "publisher": pick("org"),
                       "published_year": str(int(rng.integers(1600, 2020)))}
    for k, ci in enumerate(by_kind["country"]):
        cities_here = [c for c in by_kind["city"] if entities[c].facts["country"] == ci]
        capital = cities_here[int(rng.integers(len(cities_here)))] if cities_here else pick("city")
        entities[ci].facts = {"capital": capital, "leader": int(people[int(rng.integers(len(people)))]),
                              "currency": currencies[k].lower()}
    return KnowledgeBase(config, entities, by_kind)
