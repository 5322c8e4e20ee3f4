"""The database's canonical hash, identical to τ-bench's, so that a domain scores the same here as there.

τ-bench grades an episode by comparing the hash of the final database with the hash after replaying the
gold actions. Its canonical form turns every dict into a tuple of `(key, value)` pairs sorted by key, every
list into a tuple (order kept), every set into a sorted tuple, and leaves anything else as it is; the hash is
the SHA-256 hex digest of `str()` of that form, UTF-8 encoded. Tuples are left as they are, as in τ-bench.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["consistent_hash", "database_hash", "to_hashable"]


def to_hashable(value: Any) -> Any:
    """τ-bench's canonical form: dicts -> key-sorted tuples of (key, value), lists -> tuples, sets -> sorted
    tuples, recursively; other values unchanged."""
    if isinstance(value, dict):
        return tuple((key, to_hashable(value[key])) for key in sorted(value))
    if isinstance(value, list):
        return tuple(to_hashable(item) for item in value)
    if isinstance(value, set):
        return tuple(sorted(to_hashable(item) for item in value))
    return value


def consistent_hash(value: Any) -> str:
    """SHA-256 hex digest of `str(value)` (UTF-8), as τ-bench computes it on a canonical form."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def database_hash(data: Any) -> str:
    """The hash τ-bench compares: `consistent_hash(to_hashable(data))`."""
    return consistent_hash(to_hashable(data))
