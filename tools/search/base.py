"""The search backend contract: ranked hits for a query, full documents by id."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any


class SearchError(RuntimeError):
    """A search could not be carried out (bad index, remote failure)."""


class SearchUnavailableError(SearchError):
    """A remote search service could not be reached or kept failing after retries."""


@dataclass(frozen=True, slots=True)
class Document:
    """One corpus entry."""

    id: str
    title: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked result: the document's id and title, a text snippet, and the backend's score."""

    id: str
    title: str
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SearchBackend(ABC):
    """Anything that answers `search(query, k)` with ranked hits and `get(doc_id)` with a full document.

    Implementations: `BM25Index` (local, on-disk), `DenseIndex` (sentence embeddings), `FusionBackend`
    (reciprocal rank fusion of several backends) and `HttpSearchBackend` (a remote JSON API).
    """

    #: whether `search` is cheap enough to run inline on an event loop (no worker thread)
    inline: bool = True

    @abstractmethod
    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The top `k` hits for `query`, best first (fewer when fewer documents match)."""

    @abstractmethod
    def get(self, doc_id: str) -> Document | None:
        """The full document with this id, or None when there is none."""

    async def asearch(self, query: str, k: int = 5) -> list[SearchHit]:
        """Async `search`: inline for local indexes, in a worker thread otherwise."""
        if self.inline:
            return self.search(query, k)
        return await asyncio.to_thread(self.search, query, k)

    async def aget(self, doc_id: str) -> Document | None:
        """Async `get`."""
        if self.inline:
            return self.get(doc_id)
        return await asyncio.to_thread(self.get, doc_id)

    def __len__(self) -> int:
        """Number of documents (0 when unknown, e.g. for a remote service)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for backends that hold nothing
        """Release connections or files."""
