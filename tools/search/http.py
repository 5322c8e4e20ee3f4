"""A remote search service behind a JSON HTTP API (a self-hosted SearxNG, `agentgym.tools.search.server`, ...).

The request and the response layout are configurable: which query parameters carry the query and `k`,
where the list of results sits in the response, and which field of a result is the id, title, text and
score. Connection failures, timeouts and 5xx answers are retried with exponential backoff; when the
service stays unreachable a `SearchUnavailableError` names the URL and the last error.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from agentgym.tools.search.base import Document, SearchBackend, SearchError, SearchHit, SearchUnavailableError

_RETRYABLE = (httpx.TransportError,)


def _dig(obj: Any, path: str) -> Any:
    """Follow a dotted path ("data.results") through nested dicts; "" returns `obj`."""
    for part in filter(None, path.split(".")):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


class HttpSearchBackend(SearchBackend):
    """Search through a JSON API.

    Args:
        url: the search endpoint, e.g. "http://127.0.0.1:8888/search".
        query_param: the query string parameter that carries the query.
        k_param: the parameter that carries the number of results (None: not sent; the list is cut here).
        params: extra fixed parameters (e.g. {"format": "json"} for SearxNG).
        results_path: dotted path of the result list in the response ("" when the response is the list).
        fields: result field names for "id", "title", "text" and "score" (missing fields: id falls back
            to the position, text to "", score to the reciprocal rank).
        doc_url: template for fetching one document, with "{id}" (URL-quoted); None: `get` serves only
            documents seen in earlier results.
        headers: extra HTTP headers (e.g. an Authorization header).
        timeout: seconds per request.
        retries: extra attempts after a failed one.
        backoff: first wait between attempts, doubled each time.
    """

    inline = False

    def __init__(
        self,
        url: str,
        *,
        query_param: str = "q",
        k_param: str | None = "k",
        params: Mapping[str, Any] | None = None,
        results_path: str = "results",
        fields: Mapping[str, str] | None = None,
        doc_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.25,
        cache_size: int = 10_000,
    ) -> None:
        if retries < 0 or timeout <= 0:
            raise ValueError("retries must be >= 0 and timeout > 0")
        self.url = url
        self.query_param = query_param
        self.k_param = k_param
        self.params = dict(params or {})
        self.results_path = results_path
        self.fields = {"id": "id", "title": "title", "text": "text", "score": "score", **(fields or {})}
        self.doc_url = doc_url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._seen: OrderedDict[str, Document] = OrderedDict()
        self._cache_size = cache_size
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None

    @classmethod
    def searxng(cls, base_url: str, **kwargs: Any) -> HttpSearchBackend:
        """A SearxNG instance (its JSON output must be enabled in the instance's settings)."""
        options: dict[str, Any] = {"query_param": "q", "k_param": None, "params": {"format": "json"},
                                   "results_path": "results",
                                   "fields": {"id": "url", "title": "title", "text": "content", "score": "score"}}
        options.update(kwargs)
        return cls(base_url.rstrip("/") + "/search", **options)

    # ------------------------------------------------------------------ request plumbing

    def _request_params(self, query: str, k: int) -> dict[str, Any]:
        params = {**self.params, self.query_param: query}
        if self.k_param:
            params[self.k_param] = k
        return params

    def _parse_hits(self, payload: Any, k: int) -> list[SearchHit]:
        items = _dig(payload, self.results_path)
        if not isinstance(items, list):
            raise SearchError(f"unexpected response from {self.url}: no result list at {self.results_path!r}")
        f = self.fields
        hits = []
        for rank, item in enumerate(items[:k], 1):
            if not isinstance(item, dict):
                continue
            doc_id = str(item.get(f["id"]) if item.get(f["id"]) is not None else rank)
            score = item.get(f["score"])
            hit = SearchHit(doc_id, str(item.get(f["title"]) or ""), str(item.get(f["text"]) or ""),
                            float(score) if isinstance(score, (int, float)) else 1.0 / rank)
            hits.append(hit)
            self._remember(Document(hit.id, hit.title, hit.text))
        return hits

    def _parse_doc(self, payload: Any, doc_id: str) -> Document:
        if not isinstance(payload, dict):
            raise SearchError(f"unexpected document response from {self.doc_url}")
        f = self.fields
        return Document(str(payload.get(f["id"], doc_id)), str(payload.get(f["title"]) or ""),
                        str(payload.get(f["text"]) or ""))

    def _remember(self, doc: Document) -> None:
        self._seen[doc.id] = doc
        self._seen.move_to_end(doc.id)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)

    def _check(self, response: httpx.Response, url: str) -> Any:
        if response.status_code >= 500:
            raise httpx.TransportError(f"HTTP {response.status_code}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise SearchError(f"{url} answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise SearchError(f"{url} did not answer with JSON") from None

    def _unavailable(self, url: str, error: Exception) -> SearchUnavailableError:
        return SearchUnavailableError(
            f"search service at {url} is unreachable after {self.retries + 1} attempt(s) "
            f"(timeout {self.timeout:g} s): {type(error).__name__}: {error}")

    def _get_json(self, url: str, params: dict[str, Any] | None) -> Any:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, headers=self.headers)
        error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._check(self._client.get(url, params=params), url)
            except _RETRYABLE as e:
                error = e
        assert error is not None
        raise self._unavailable(url, error)

    async def _aget_json(self, url: str, params: dict[str, Any] | None) -> Any:
        import asyncio

        if self._aclient is None:
            self._aclient = httpx.AsyncClient(timeout=self.timeout, headers=self.headers)
        error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._check(await self._aclient.get(url, params=params), url)
            except _RETRYABLE as e:
                error = e
        assert error is not None
        raise self._unavailable(url, error)

    # ------------------------------------------------------------------ SearchBackend

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        payload = self._get_json(self.url, self._request_params(query, k))
        return [] if payload is None else self._parse_hits(payload, k)

    async def asearch(self, query: str, k: int = 5) -> list[SearchHit]:
        payload = await self._aget_json(self.url, self._request_params(query, k))
        return [] if payload is None else self._parse_hits(payload, k)

    def _doc_url(self, doc_id: str) -> str | None:
        return self.doc_url.replace("{id}", quote(doc_id, safe="")) if self.doc_url else None

    def get(self, doc_id: str) -> Document | None:
        url = self._doc_url(doc_id)
        if url is None:
            return self._seen.get(doc_id)
        payload = self._get_json(url, None)
        return None if payload is None else self._parse_doc(payload, doc_id)

    async def aget(self, doc_id: str) -> Document | None:
        url = self._doc_url(doc_id)
        if url is None:
            return self._seen.get(doc_id)
        payload = await self._aget_json(url, None)
        return None if payload is None else self._parse_doc(payload, doc_id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        # An AsyncClient is bound to the loop that used it; dropping the reference closes its pool.
        self._aclient = None
