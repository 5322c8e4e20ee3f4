"""A local BM25 index: scores precomputed by `bm25s` into a sparse term-document matrix, saved to disk.

Queries touch only the posting lists of their terms: each term's column of precomputed BM25 scores is
added into a reusable score buffer, and the top hits are picked among the documents those lists name. On a
100k-document corpus a query costs well under a millisecond.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.tools.search.analyzer import Analyzer
from agentgym.tools.search.base import Document, SearchBackend, SearchHit
from agentgym.tools.search.corpus import DocStore

META_FILE = "agentgym_index.json"
FORMAT = "agentgym-bm25/1"


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as e:
        raise ImportError("the BM25 backend needs bm25s and PyStemmer: pip install 'agentgym[search]'") from e
    return bm25s


class BM25Index(SearchBackend):
    """BM25 over a document store. Build with `BM25Index.build(docs)`, persist with `save`/`load`.

    Title and text are indexed together. Hits carry the full text; callers cut snippets.
    """

    inline = True

    def __init__(self, retriever: Any, store: DocStore, analyzer: Analyzer, params: dict[str, Any]) -> None:
        self.retriever = retriever
        self.store = store
        self.analyzer = analyzer
        self.params = params
        self._vocab: dict[str, int] = retriever.vocab_dict
        scores = retriever.scores
        self._data = np.asarray(scores["data"])
        self._indices = np.asarray(scores["indices"])
        self._indptr = np.asarray(scores["indptr"])
        self._num_docs = int(scores["num_docs"])
        self._local = threading.local()

    # ------------------------------------------------------------------ building and persistence

    @classmethod
    def build(cls, docs: Iterable[Document], *, k1: float = 1.5, b: float = 0.75, method: str = "lucene",
              analyzer: Analyzer | None = None) -> BM25Index:
        """Index documents (title and text) in memory."""
        bm25s = _bm25s()
        analyzer = analyzer or Analyzer()
        store = docs if isinstance(docs, DocStore) else DocStore(docs)
        if len(store) == 0:
            raise ValueError("cannot build an index over an empty corpus")
        vocab: dict[str, int] = {}
        ids: list[list[int]] = []
        for d in store:
            row = []
            for term in analyzer.terms(f"{d.title}\n{d.text}"):
                tid = vocab.get(term)
                if tid is None:
                    tid = vocab[term] = len(vocab)
                row.append(tid)
            ids.append(row)
        retriever = bm25s.BM25(k1=k1, b=b, method=method)
        retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        return cls(retriever, store, analyzer, {"k1": k1, "b": b, "method": method})

    def save(self, out_dir: str | Path) -> Path:
        """Write the index, the documents and the analyzer settings into `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(out), show_progress=False)
        self.store.save(out)
        meta = {"format": FORMAT, "backend": "bm25", "num_docs": len(self.store), "params": self.params,
                "analyzer": self.analyzer.config(), "saved_at": time.time()}
        (out / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, in_dir: str | Path) -> BM25Index:
        """Open an index written by `save` (document texts stay memory-mapped on disk)."""
        bm25s = _bm25s()
        src = Path(in_dir)
        meta_path = src / META_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{src} is not an agentgym index (no {META_FILE}); build one with "
                                    "`agentgym index build CORPUS.jsonl --out DIR`")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{src}: unsupported index format {meta.get('format')!r} (expected {FORMAT})")
        retriever = bm25s.BM25.load(str(src), show_progress=False, verbosity=0)
        store = DocStore.load(src)
        return cls(retriever, store, Analyzer.from_config(meta["analyzer"]), meta["params"])

    # ------------------------------------------------------------------ querying

    def __len__(self) -> int:
        return len(self.store)

    def _buffer(self) -> np.ndarray:
        buf = getattr(self._local, "scores", None)
        if buf is None:
            buf = self._local.scores = np.zeros(self._num_docs, dtype=self._data.dtype)
        return buf

    def rank(self, query: str, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """(document rows, scores) of the top `k` documents, best first; ties go to the earlier row."""
        vocab = self._vocab
        term_ids = [vocab[t] for t in self.analyzer.query_terms(query) if t in vocab]
        if not term_ids or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        indptr, indices, data = self._indptr, self._indices, self._data
        scores = self._buffer()
        rows = []
        for t in term_ids:
            s, e = indptr[t], indptr[t + 1]
            if e > s:
                docs = indices[s:e]
                scores[docs] += data[s:e]  # a document appears once per posting list
                rows.append(docs)
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        cand = rows[0] if len(rows) == 1 else np.concatenate(rows)
        cand_scores = scores[cand]
        scores[cand] = 0.0
        m = min(len(cand), k * len(rows))  # each document occurs at most once per term
        if m < len(cand):
            top = np.argpartition(-cand_scores, m - 1)[:m]
            cand, cand_scores = cand[top], cand_scores[top]
        order = np.lexsort((cand, -cand_scores))
        cand, cand_scores = cand[order], cand_scores[order]
        if len(rows) > 1:
            keep = np.ones(len(cand), dtype=bool)
            keep[1:] = cand[1:] != cand[:-1]  # duplicates share a score, so they sit next to each other
            cand, cand_scores = cand[keep], cand_scores[keep]
        return cand[:k].astype(np.int64), cand_scores[:k]

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        rows, scores = self.rank(query, k)
        hits = []
        for r, s in zip(rows.tolist(), scores.tolist(), strict=True):
            d = self.store.doc(r)
            hits.append(SearchHit(d.id, d.title, d.text, float(s)))
        return hits

    def get(self, doc_id: str) -> Document | None:
        return self.store.get(doc_id)

    def close(self) -> None:
        self.store.close()
