"""`SharedPool`: process-wide resources (a site server, a browser) shared by env instances and reference-counted.

Many envs of one family in one process (a `collect` pool, a trainer's envs) should not each start their own
server or browser. An env `acquire`s the resource under a key describing it and `release`s it when it closes;
the pool makes the resource at the first acquire and hands it back to the last releaser to close.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedPool(Generic[T]):
    """Resources of type `T` keyed by what makes them interchangeable, with a holder count per key.

    Thread-safe: envs driven from different threads (sync envs inside a notebook's loop) may share it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[T, int]] = {}

    def acquire(self, key: Hashable, make: Callable[[], T]) -> T:
        """The resource under `key`, made with `make()` when no one holds it; one more holder."""
        with self._lock:
            item, holders = self._items.get(key, (None, 0))
            if item is None:
                item = make()
            self._items[key] = (item, holders + 1)
            return item

    def release(self, key: Hashable) -> T | None:
        """One holder fewer; returns the resource when that was the last holder (the caller closes it)."""
        with self._lock:
            if key not in self._items:
                raise KeyError(f"{self.name}: nothing is held under {key!r}")
            item, holders = self._items[key]
            if holders > 1:
                self._items[key] = (item, holders - 1)
                return None
            del self._items[key]
            return item

    def holders(self, key: Hashable) -> int:
        """How many holders share the resource under `key` (0: none is made)."""
        with self._lock:
            return self._items.get(key, (None, 0))[1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
