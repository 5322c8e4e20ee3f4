"""Text analysis shared by indexing and querying: lowercase words, English stopwords, Snowball stems."""

from __future__ import annotations

import re
from typing import Any

_WORD = re.compile(r"(?u)\b\w\w+\b")


class Analyzer:
    """Turns text into index terms.

    Args:
        language: Snowball stemmer language (PyStemmer), or None for no stemming.
        stopwords: "en" for bm25s's English list, a list of words, or None.
        max_terms: a query is cut to this many terms (bounds the cost of a pathological query).
    """

    def __init__(self, language: str | None = "english", stopwords: str | list[str] | None = "en",
                 max_terms: int = 256) -> None:
        self.language = language
        self.stopwords_spec = stopwords
        self.max_terms = max_terms
        if stopwords == "en":
            from bm25s.stopwords import STOPWORDS_EN

            self._stop = frozenset(STOPWORDS_EN)
        else:
            self._stop = frozenset(w.lower() for w in (stopwords or ()))
        self._stem_word = None
        if language:
            import Stemmer

            self._stem_word = Stemmer.Stemmer(language).stemWord
        self._cache: dict[str, str] = {}

    def terms(self, text: str, limit: int | None = None) -> list[str]:
        """Index terms of `text`, in order (stopwords removed, words stemmed)."""
        words = _WORD.findall(text.lower())
        out: list[str] = []
        cache, stop, stem = self._cache, self._stop, self._stem_word
        for w in words:
            if w in stop:
                continue
            s = cache.get(w)
            if s is None:
                s = stem(w) if stem is not None else w
                if len(cache) < 2_000_000:
                    cache[w] = s
            out.append(s)
            if limit is not None and len(out) >= limit:
                break
        return out

    def query_terms(self, text: str) -> list[str]:
        """Terms of a query, at most `max_terms`."""
        return self.terms(text, self.max_terms)

    def config(self) -> dict[str, Any]:
        """Settings that recreate this analyzer (saved with an index)."""
        return {"language": self.language, "stopwords": self.stopwords_spec, "max_terms": self.max_terms}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Analyzer:
        return cls(language=cfg.get("language"), stopwords=cfg.get("stopwords"), max_terms=cfg.get("max_terms", 256))
