"""`SandboxPool`: hands out warm sandbox sessions and takes them back clean."""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from agentgym.tools.python.base import PythonSandbox, SandboxError


class SandboxPool:
    """A pool of started sessions of one backend.

    `acquire()` returns a started session (an idle one when there is one); `release()` restarts its
    interpreter (so no state leaks to the next user) and keeps it warm, or closes it when `max_idle` are
    already idle.

    Args:
        factory: makes a new (unstarted) session, e.g. `lambda: LocalSandbox(limits)`.
        max_idle: most idle sessions kept.
        prefill: sessions to start right away.
    """

    def __init__(self, factory: Callable[[], PythonSandbox], max_idle: int = 4, prefill: int = 0) -> None:
        self.factory = factory
        self.max_idle = max_idle
        self._idle: list[PythonSandbox] = []
        self._lock = threading.Lock()
        self._closed = False
        self.created = 0
        for _ in range(prefill):
            self._idle.append(self._new().start())

    def _new(self) -> PythonSandbox:
        self.created += 1
        return self.factory()

    def _pop(self) -> PythonSandbox | None:
        with self._lock:
            if self._closed:
                raise SandboxError("the sandbox pool is closed")
            return self._idle.pop() if self._idle else None

    def _keep(self, sandbox: PythonSandbox) -> bool:
        with self._lock:
            if self._closed or len(self._idle) >= self.max_idle:
                return False
            self._idle.append(sandbox)
            return True

    @property
    def idle(self) -> int:
        return len(self._idle)

    def acquire(self) -> PythonSandbox:
        """A started session for exclusive use until `release()`."""
        sandbox = self._pop() or self._new()
        return sandbox.start()

    async def aacquire(self) -> PythonSandbox:
        """Async `acquire()`."""
        sandbox = self._pop() or self._new()
        return await sandbox.astart()

    def release(self, sandbox: PythonSandbox, reset: bool = True) -> None:
        """Give a session back: it is reset and kept warm, or closed.

        Args:
            sandbox: a session from `acquire()`.
            reset: restart its interpreter first; pass False only when no code ran in it since it was
                handed out (or since its last reset), so that it is known to be clean.
        """
        if self._closed or len(self._idle) >= self.max_idle or not sandbox.started:
            sandbox.close()
            return
        try:
            if reset:
                sandbox.reset()
        except SandboxError:
            sandbox.close()
            return
        if not self._keep(sandbox):
            sandbox.close()

    async def arelease(self, sandbox: PythonSandbox, reset: bool = True) -> None:
        """Async `release()`."""
        if self._closed or len(self._idle) >= self.max_idle or not sandbox.started:
            await sandbox.aclose()
            return
        try:
            if reset:
                await sandbox.areset()
        except SandboxError:
            await sandbox.aclose()
            return
        if not self._keep(sandbox):
            await sandbox.aclose()

    @contextmanager
    def session(self) -> Iterator[PythonSandbox]:
        """`with pool.session() as sb:` acquire and release."""
        sandbox = self.acquire()
        try:
            yield sandbox
        finally:
            self.release(sandbox)

    @asynccontextmanager
    async def asession(self) -> AsyncIterator[PythonSandbox]:
        """`async with pool.asession() as sb:` acquire and release."""
        sandbox = await self.aacquire()
        try:
            yield sandbox
        finally:
            await asyncio.shield(self.arelease(sandbox))

    def close(self) -> None:
        """Close every idle session; sessions still out are closed when released."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for sandbox in idle:
            sandbox.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default_pools: dict[tuple[Any, ...], SandboxPool] = {}
_default_lock = threading.Lock()


def make_sandbox(backend: str = "local", **options: Any) -> PythonSandbox:
    """A new session of `backend` ("local" or "docker"); options go to its constructor."""
    if backend == "local":
        from agentgym.tools.python.local import LocalSandbox

        return LocalSandbox(**options)
    if backend == "docker":
        from agentgym.tools.python.docker_sandbox import DockerSandbox

        return DockerSandbox(**options)
    raise ValueError(f"unknown sandbox backend {backend!r}; choose 'local' or 'docker'")


def default_pool(backend: str = "local", **options: Any) -> SandboxPool:
    """The process-wide pool for a backend and options (shared by every env that uses them)."""
    key = (backend, *sorted((k, repr(v)) for k, v in options.items()))
    with _default_lock:
        pool = _default_pools.get(key)
        if pool is None or pool._closed:
            make_sandbox(backend, **options).close()  # fail early on bad options
            pool = SandboxPool(lambda: make_sandbox(backend, **options))
            _default_pools[key] = pool
        return pool


@atexit.register
def _close_default_pools() -> None:
    for pool in list(_default_pools.values()):
        pool.close()
