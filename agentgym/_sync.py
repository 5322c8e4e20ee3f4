"""Running the async core from synchronous code (Gymnasium's `reset`/`step`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class SyncRunner:
    """Runs coroutines to completion for a sync caller.

    Outside an event loop it drives a private loop in the calling thread (no thread hop). Inside a running
    loop (a notebook, an async app) it hands the coroutine to a private loop on a helper thread. Resources
    bound to a loop (subprocess pipes, sockets) therefore stay on one loop per calling context.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(coro)
        if self._thread_loop is None:
            self._thread_loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._thread_loop.run_forever, daemon=True, name="agentgym-sync")
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._thread_loop).result()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
        if self._thread_loop is not None:
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._thread_loop.close()
            self._thread_loop = None

    def __del__(self) -> None:
        # an env dropped without close() must not leak its private loop
        loop = self._loop
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.close()
        if self._thread_loop is not None and not self._thread_loop.is_closed():
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
