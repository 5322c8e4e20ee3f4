"""Building, saving and opening search indexes; the body of `agentgym index build`.

    build_index("corpus.jsonl", "index/")            # BM25, saved to disk
    build_index("corpus.jsonl", "index/", dense=True)  # plus sentence embeddings
    backend = load_index("index/", retriever="hybrid")
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentgym.tools.search.base import Document, SearchBackend
from agentgym.tools.search.bm25 import BM25Index
from agentgym.tools.search.corpus import DocStore, read_corpus

RETRIEVERS = ("bm25", "dense", "hybrid")
DENSE_SUBDIR = "dense"


def _check_retriever(retriever: str) -> None:
    if retriever not in RETRIEVERS:
        raise ValueError(f"unknown retriever {retriever!r}; choose one of {', '.join(RETRIEVERS)}")


def build_backend(docs: Iterable[Document] | DocStore, retriever: str = "bm25", *, model: str | None = None) -> SearchBackend:
    """An in-memory backend over `docs`: "bm25", "dense", or "hybrid" (both, fused by reciprocal rank)."""
    _check_retriever(retriever)
    store = docs if isinstance(docs, DocStore) else DocStore(docs)
    if retriever == "bm25":
        return BM25Index.build(store)
    from agentgym.tools.search.dense import DenseIndex

    dense = DenseIndex.build(store, model=model)
    if retriever == "dense":
        return dense
    from agentgym.tools.search.fusion import FusionBackend

    return FusionBackend([BM25Index.build(store), dense])


def build_index(corpus_path: str | Path, out_dir: str | Path, *, dense: bool = False, model: str | None = None,
                k1: float = 1.5, b: float = 0.75) -> dict[str, Any]:
    """Index a JSONL corpus (`id`, `title`, `text`) into `out_dir`; returns a summary with timings.

    With `dense=True` the documents are also embedded (model: a sentence-transformers folder, default the
    packaged all-MiniLM-L6-v2) and saved under `out_dir/dense/`, so `load_index(..., "hybrid")` works.
    """
    t0 = time.perf_counter()
    store = DocStore(read_corpus(corpus_path))
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    index = BM25Index.build(store, k1=k1, b=b)
    index.save(out_dir)
    summary: dict[str, Any] = {"out_dir": str(out_dir), "num_docs": len(store), "vocab_size": len(index._vocab),
                               "read_s": t_read, "bm25_s": time.perf_counter() - t1}
    if dense:
        from agentgym.tools.search.dense import DenseIndex

        t2 = time.perf_counter()
        DenseIndex.build(store, model=model).save(Path(out_dir) / DENSE_SUBDIR, with_docs=False)
        summary["dense_s"] = time.perf_counter() - t2
    summary["total_s"] = time.perf_counter() - t0
    return summary


def load_index(index_dir: str | Path, retriever: str = "bm25", *, model: str | None = None) -> SearchBackend:
    """Open an index written by `build_index` as a backend ("bm25", "dense" or "hybrid")."""
    _check_retriever(retriever)
    bm25 = BM25Index.load(index_dir)
    if retriever == "bm25":
        return bm25
    from agentgym.tools.search.dense import DENSE_META_FILE, DenseIndex

    dense_dir = Path(index_dir) / DENSE_SUBDIR
    if not (dense_dir / DENSE_META_FILE).exists():
        raise FileNotFoundError(f"{index_dir} has no dense embeddings; rebuild it with dense=True (--dense)")
    dense = DenseIndex.load(dense_dir, store=bm25.store, model=model)
    if retriever == "dense":
        return dense
    from agentgym.tools.search.fusion import FusionBackend

    return FusionBackend([bm25, dense])


def index_build_command(corpus: str, out: str, *, dense: bool = False, model: str | None = None) -> int:
    """`agentgym index build CORPUS --out DIR [--dense] [--model PATH]`: prints a summary, returns the exit code."""
    if not Path(corpus).is_file():
        print(f"error: corpus file {corpus!r} not found", file=sys.stderr)
        return 2
    try:
        s = build_index(corpus, out, dense=dense, model=model)
    except (ValueError, ImportError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"indexed {s['num_docs']:,} documents ({s['vocab_size']:,} terms) into {s['out_dir']} "
          f"in {s['total_s']:.2f} s (BM25 {s['bm25_s']:.2f} s" + (f", dense {s['dense_s']:.2f} s)" if dense else ")"))
    return 0
