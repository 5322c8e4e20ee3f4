"""Corpora: reading JSONL documents and a document store that lives in memory or memory-maps from disk.

Accepted JSONL fields: `id` (or `_id`, `doc_id`, `docid`), `title`, and `text` (or `contents`, `body`,
`passage`). FlashRAG corpora put the title on the first line of `contents` (`"Title"\\ntext`); that form is
split back into a title and a text. Rows without an id are numbered by line.
"""

from __future__ import annotations

import json
import mmap
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from agentgym.tools.search.base import Document

_ID_KEYS = ("id", "_id", "doc_id", "docid")
_TEXT_KEYS = ("text", "contents", "body", "passage")
DOCS_FILE, OFFSETS_FILE, IDS_FILE = "docs.jsonl", "docs.offsets.npy", "docs.ids.json"


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if row.get(k) is not None:
            return row[k]
    return None


def document_from_row(row: dict[str, Any], line: int) -> Document:
    """Normalize one corpus row (see the module docstring for accepted fields)."""
    if not isinstance(row, dict):
        raise ValueError(f"corpus line {line + 1}: expected a JSON object, got {type(row).__name__}")
    doc_id = _first(row, _ID_KEYS)
    text = _first(row, _TEXT_KEYS)
    if text is None:
        raise ValueError(f"corpus line {line + 1}: no text field (one of {', '.join(_TEXT_KEYS)})")
    text = str(text)
    title = row.get("title")
    if title is None and "contents" in row and "\n" in text:
        head, text = text.split("\n", 1)
        title = head.strip().strip('"')
    return Document(str(doc_id) if doc_id is not None else str(line), str(title or ""), text)


def read_corpus(path: str | Path) -> Iterator[Document]:
    """Documents of a JSONL corpus file, in file order."""
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}: line {i + 1} is not valid JSON ({e.msg})") from None
                yield document_from_row(row, i)


def write_corpus(docs: Iterable[Document], path: str | Path) -> int:
    """Write documents as JSONL (`id`, `title`, `text`); returns the number written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n


class DocStore:
    """Documents by position (the index's row number) and by id.

    Built in memory from documents, or loaded from a saved folder, where the texts stay on disk
    (memory-mapped) and only the ids are read at load time.
    """

    def __init__(self, docs: Iterable[Document]) -> None:
        self._docs: list[Document] | None = list(docs)
        self.ids: list[str] = [d.id for d in self._docs]
        self._mm: mmap.mmap | None = None
        self._offsets: np.ndarray | None = None
        self._build_lookup()

    def _build_lookup(self) -> None:
        self._pos = {doc_id: i for i, doc_id in enumerate(self.ids)}
        if len(self._pos) != len(self.ids):
            dup = next(doc_id for doc_id, n in Counter(self.ids).items() if n > 1)
            raise ValueError(f"duplicate document id {dup!r} in the corpus")

    def __len__(self) -> int:
        return len(self.ids)

    def doc(self, pos: int) -> Document:
        """The document at row `pos`."""
        if self._docs is not None:
            return self._docs[pos]
        assert self._mm is not None and self._offsets is not None
        start, end = int(self._offsets[pos]), int(self._offsets[pos + 1])
        row = json.loads(self._mm[start:end])
        return Document(self.ids[pos], row["title"], row["text"])

    def position(self, doc_id: str) -> int | None:
        """Row number of a document id, or None."""
        return self._pos.get(doc_id)

    def get(self, doc_id: str) -> Document | None:
        pos = self._pos.get(doc_id)
        return None if pos is None else self.doc(pos)

    def __iter__(self) -> Iterator[Document]:
        return (self.doc(i) for i in range(len(self)))

    def save(self, out_dir: str | Path) -> None:
        """Write the documents, their byte offsets and the id list into `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        offsets = [0]
        with open(out / DOCS_FILE, "wb") as f:
            for d in self:
                line = (json.dumps({"title": d.title, "text": d.text}, ensure_ascii=False) + "\n").encode()
                f.write(line)
                offsets.append(offsets[-1] + len(line))
        np.save(out / OFFSETS_FILE, np.asarray(offsets, dtype=np.int64))
        (out / IDS_FILE).write_text(json.dumps(self.ids, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, in_dir: str | Path) -> DocStore:
        """Open a saved store; texts are memory-mapped and parsed on access."""
        src = Path(in_dir)
        store = cls.__new__(cls)
        store._docs = None
        store.ids = json.loads((src / IDS_FILE).read_text(encoding="utf-8"))
        store._offsets = np.load(src / OFFSETS_FILE)
        with open(src / DOCS_FILE, "rb") as f:
            size = f.seek(0, 2)
            store._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        if store._mm is None and store.ids:
            raise ValueError(f"{src / DOCS_FILE} is empty but {len(store.ids)} ids are listed")
        store._build_lookup()
        return store

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
