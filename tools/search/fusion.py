"""Reciprocal rank fusion: combine several backends' rankings (e.g. BM25 and dense) into one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from agentgym.tools.search.base import Document, SearchBackend, SearchHit


def reciprocal_rank_fusion(rankings: Sequence[Sequence[SearchHit]], weights: Sequence[float] | None = None,
                           k_rrf: int = 60) -> list[SearchHit]:
    """Fuse ranked lists: a document scores sum(weight / (k_rrf + rank)); ties keep first-seen order."""
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    scores: dict[str, float] = {}
    first: dict[str, SearchHit] = {}
    for w, ranking in zip(weights, rankings, strict=True):
        for rank, hit in enumerate(ranking, 1):
            scores[hit.id] = scores.get(hit.id, 0.0) + w / (k_rrf + rank)
            first.setdefault(hit.id, hit)
    order = sorted(first, key=lambda i: -scores[i])
    return [SearchHit(i, first[i].title, first[i].text, scores[i]) for i in order]


class FusionBackend(SearchBackend):
    """Runs every backend to `depth` hits and fuses their rankings with reciprocal rank fusion."""

    def __init__(self, backends: Sequence[SearchBackend], weights: Sequence[float] | None = None,
                 k_rrf: int = 60, depth: int = 20) -> None:
        if not backends:
            raise ValueError("FusionBackend needs at least one backend")
        self.backends = list(backends)
        self.weights = list(weights) if weights is not None else None
        self.k_rrf = k_rrf
        self.depth = depth
        self.inline = all(b.inline for b in self.backends)

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        runs = [b.search(query, max(k, self.depth)) for b in self.backends]
        return reciprocal_rank_fusion(runs, self.weights, self.k_rrf)[:k]

    async def asearch(self, query: str, k: int = 5) -> list[SearchHit]:
        runs = await asyncio.gather(*(b.asearch(query, max(k, self.depth)) for b in self.backends))
        return reciprocal_rank_fusion(runs, self.weights, self.k_rrf)[:k]

    def get(self, doc_id: str) -> Document | None:
        for b in self.backends:
            doc = b.get(doc_id)
            if doc is not None:
                return doc
        return None

    def __len__(self) -> int:
        return max(len(b) for b in self.backends)

    def close(self) -> None:
        for b in self.backends:
            b.close()
