"""The `search` and `open` tools over any `SearchBackend`.

Bad queries (empty, too long, binary junk) and backend failures come back as text the agent reads, never
as exceptions. Each call records what it retrieved in the episode state (`state.data["retrieved"]`, a
list of document ids in retrieval order, and `state.data["searches"]`), which rewards and metrics use.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from agentgym.tools.search.base import SearchBackend, SearchError, SearchHit

from agentgym.state import EpisodeState
from agentgym.tool import Injected, Tool

MAX_QUERY_CHARS = 1_000
MAX_DOC_ID_CHARS = 200


def query_problem(query: Any, max_chars: int = MAX_QUERY_CHARS) -> str | None:
    """Why `query` cannot be searched, or None when it is fine."""
    if not isinstance(query, str):
        return f"the query must be text, got {type(query).__name__}"
    text = query.strip()
    if not text:
        return "the query is empty; write the words to search for"
    if len(text) > max_chars:
        return f"the query is {len(text):,} characters long (limit {max_chars:,}); shorten it to a few keywords"
    bad = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch)[0] == "C" and ch not in "\t\n\r"))
    if bad:
        return f"the query contains {bad} binary or control character(s); use plain words"
    return None


def format_hits(hits: list[SearchHit], snippet_chars: int) -> str:
    """Search-R1-style result list: `Doc 1 [id: ...] (Title: ...) snippet`."""
    lines = []
    for i, h in enumerate(hits, 1):
        text = " ".join(h.text.split())
        if len(text) > snippet_chars:
            text = text[:snippet_chars].rsplit(" ", 1)[0] + " ..."
        lines.append(f"Doc {i} [id: {h.id}] (Title: {h.title}) {text}")
    return "\n".join(lines)


def _record(state: EpisodeState | None, hits: list[SearchHit], query: str | None) -> None:
    if state is None:
        return
    data = state.data
    data.setdefault("retrieved", []).extend(h.id for h in hits)
    data.setdefault("retrieved_titles", []).extend(h.title for h in hits)
    if query is not None:
        data.setdefault("queries", []).append(query)


SEARCH_DOC = """Search the document collection and return the most relevant passages with their ids.

Args:
    query: a few keywords or a short question.
"""


def make_search_tool(backend: SearchBackend, *, k: int = 3, snippet_chars: int = 400,
                     max_query_chars: int = MAX_QUERY_CHARS, name: str = "search", timeout: float | None = 30.0) -> Tool:
    """A `search(query)` tool returning the top `k` snippets from `backend`.

    Local indexes answer inline on the event loop (no thread hop, no timeout task); remote backends run
    as coroutines under the tool's timeout.
    """
    if k < 1:
        raise ValueError("k must be >= 1")

    def prepare(query: Any, state: EpisodeState | None) -> str | None:
        if state is not None:
            state.data["searches"] = state.data.get("searches", 0) + 1
        problem = query_problem(query, max_query_chars)
        if problem is not None and state is not None:
            state.data["bad_queries"] = state.data.get("bad_queries", 0) + 1
        return None if problem is None else f"Error: {problem}."

    def finish(hits: list[SearchHit], q: str, state: EpisodeState | None) -> str:
        _record(state, hits, q)
        if not hits:
            return f"No documents matched {q[:100]!r}. Try other keywords."
        return format_hits(hits, snippet_chars)

    if backend.inline:
        def search(query: str, state: Annotated[EpisodeState | None, Injected] = None) -> str:
            error = prepare(query, state)
            if error is not None:
                return error
            try:
                hits = backend.search(query.strip(), k)
            except SearchError as e:
                return f"Error: search failed: {e}"
            return finish(hits, query.strip(), state)
    else:
        async def search(query: str, state: Annotated[EpisodeState | None, Injected] = None) -> str:
            error = prepare(query, state)
            if error is not None:
                return error
            try:
                hits = await backend.asearch(query.strip(), k)
            except SearchError as e:
                return f"Error: search failed: {e}"
            return finish(hits, query.strip(), state)

    search.__doc__ = SEARCH_DOC
    return Tool.from_function(search, name=name, timeout=timeout, offload=False)


def make_open_tool(backend: SearchBackend, *, max_chars: int = 4_000, name: str = "open",
                   timeout: float | None = 30.0) -> Tool:
    """An `open(doc_id)` tool returning a document's full text."""

    async def open_document(doc_id: str, state: Annotated[EpisodeState | None, Injected] = None) -> str:
        """Read the full text of a document by the id shown in search results.

        Args:
            doc_id: the document id, e.g. the value after "id:" in a search result.
        """
        key = doc_id.strip() if isinstance(doc_id, str) else ""
        if not key:
            return "Error: the document id is empty; copy it from a search result."
        if len(key) > MAX_DOC_ID_CHARS or query_problem(key, MAX_DOC_ID_CHARS) is not None:
            return "Error: that is not a document id; copy the id shown after 'id:' in a search result."
        try:
            doc = await backend.aget(key)
        except SearchError as e:
            return f"Error: could not open {key!r}: {e}"
        if doc is None:
            return f"Error: no document has the id {key[:100]!r}."
        if state is not None:
            state.data.setdefault("opened", []).append(doc.id)
        _record(state, [SearchHit(doc.id, doc.title, doc.text, 0.0)], None)
        text = doc.text if len(doc.text) <= max_chars else doc.text[:max_chars] + " ..."
        return f"[id: {doc.id}] (Title: {doc.title})\n{text}"

    return Tool.from_function(open_document, name=name, timeout=timeout, offload=False)
