"""`PythonSandbox`: a stateful Python session (like a notebook kernel) in an isolated worker process.

Backends implement three hooks: `_spawn()` starts a worker and returns a channel to it, `_kill()` stops
the worker and everything it started, `_dispose()` frees what remains (a container). This class owns the
rest: lazy start, the request/reply cycle with deadlines, interrupting runaway code, restarting a worker
that crashed or would not stop (and saying so in the result), and sync plus async entry points.
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from agentgym.tools.python.channel import ChannelClosed, ChannelTimeout, FrameChannel, ProtocolError
from agentgym.tools.python.limits import SandboxLimits
from agentgym.tools.python.result import ExecutionResult

WORKER_SOURCE = (Path(__file__).with_name("worker.py")).read_text(encoding="utf-8")

RESTART_NOTE = "the interpreter was restarted: all variables, imports and files of this session were lost"


class SandboxError(RuntimeError):
    """A sandbox could not be started or used (not raised for anything the executed code does)."""


class PythonSandbox(ABC):
    """A stateful Python interpreter session in an isolated worker.

    Variables, imports and files persist across `execute` calls until `reset()`. The worker starts on the
    first call (or `start()`). Use as a context manager, sync or async, or call `close()`.

    Args:
        limits: resource limits (`SandboxLimits()` by default).
    """

    backend: str = "abstract"
    _blocking_spawn: bool = False

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._channel: FrameChannel | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.worker_info: dict[str, Any] = {}
        self.restarts = 0
        self.calls = 0

    # ------------------------------------------------------------------ backend hooks

    @abstractmethod
    def _spawn(self) -> FrameChannel:
        """Start a worker process; return the channel to it (the worker then sends a hello frame)."""

    @abstractmethod
    def _kill(self) -> None:
        """Stop the current worker and every process it started; must not raise."""

    def _dispose(self) -> None:  # noqa: B027 (optional hook)
        """Release backend resources after the last worker is gone."""

    def _death_reason(self) -> str:
        """Why the worker died, if the backend can tell (exit status, OOM ...)."""
        return ""

    @property
    def isolation(self) -> str:
        """A one-line description of how this session is isolated."""
        return self.backend

    # ------------------------------------------------------------------ lifecycle

    @property
    def started(self) -> bool:
        return self._channel is not None

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox session is closed")

    def _acquire(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise SandboxError("the sandbox session is busy with another call (sessions are not shared)")

    def _hello(self, reply: Any) -> None:
        if not isinstance(reply, dict) or reply.get("op") != "hello":
            raise SandboxError(f"unexpected first message from the worker: {str(reply)[:200]}")
        self.worker_info = reply

    def _start_failed(self, e: BaseException) -> SandboxError:
        reason = self._death_reason()
        self._stop_worker()
        return SandboxError(f"the {self.backend} sandbox worker did not start: {e}" + (f" ({reason})" if reason else ""))

    def _start_sync(self) -> None:
        channel = self._spawn()
        self._channel = channel
        try:
            self._hello(channel.recv(time.monotonic() + self.limits.start_timeout))
        except (ChannelClosed, ChannelTimeout, ProtocolError, SandboxError) as e:
            raise self._start_failed(e) from None

    async def _start_async(self) -> None:
        channel = await asyncio.to_thread(self._spawn) if self._blocking_spawn else self._spawn()
        self._channel = channel
        try:
            self._hello(await channel.arecv(time.monotonic() + self.limits.start_timeout))
        except (ChannelClosed, ChannelTimeout, ProtocolError, SandboxError) as e:
            raise self._start_failed(e) from None

    def _stop_worker(self) -> None:
        self._channel = None
        self._kill()

    def start(self) -> PythonSandbox:
        """Start the worker now instead of on the first call (a warm session)."""
        self._check_open()
        self._acquire()
        try:
            if self._channel is None:
                self._start_sync()
        finally:
            self._lock.release()
        return self

    async def astart(self) -> PythonSandbox:
        """Async `start()`."""
        self._check_open()
        self._acquire()
        try:
            if self._channel is None:
                await self._start_async()
        finally:
            self._lock.release()
        return self

    def reset(self) -> None:
        """Forget all state: the next call runs in a fresh interpreter with an empty working directory."""
        self._check_open()
        self._acquire()
        try:
            self._stop_worker()
            self._start_sync()
        finally:
            self._lock.release()

    async def areset(self) -> None:
        """Async `reset()`."""
        self._check_open()
        self._acquire()
        try:
            await asyncio.to_thread(self._stop_worker) if self._blocking_spawn else self._stop_worker()
            await self._start_async()
        finally:
            self._lock.release()

    def close(self) -> None:
        """Stop the worker and free the session's resources. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop_worker()
        self._dispose()

    async def aclose(self) -> None:
        """Async `close()`."""
        if self._blocking_spawn:
            await asyncio.to_thread(self.close)
        else:
            self.close()

    def __enter__(self) -> PythonSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> PythonSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        try:
            if not self._closed and self._channel is not None:
                self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ execution

    def _request(self, code: str, timeout: float) -> dict[str, Any]:
        return {"op": "exec", "code": code, "timeout": timeout, "max_output": self.limits.max_output_chars}

    def _failure(self, error: BaseException, timeout: float, started: float) -> ExecutionResult:
        """The worker timed out hard, died, or garbled the channel: report it (the caller restarts it)."""
        duration = time.monotonic() - started
        if isinstance(error, ChannelTimeout):
            return ExecutionResult(
                error=f"TimeoutError: execution exceeded {timeout:g} s and did not stop when interrupted",
                duration=duration, timed_out=True, restarted=True,
                notes=[RESTART_NOTE])
        reason = self._death_reason()
        what = "the interpreter process died" if isinstance(error, ChannelClosed) else \
            "the interpreter's output channel was corrupted"
        detail = f" ({reason})" if reason else ""
        return ExecutionResult(error=f"WorkerCrashed: {what}{detail}", duration=duration, crashed=True,
                               restarted=True, notes=[RESTART_NOTE])


    def execute(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run `code` in the session; never raises for anything the code does.

        Args:
            code: Python source; the value of a trailing expression is returned in `result.value`.
            timeout: seconds before the code is interrupted (default `limits.timeout`).
        """
        self._check_open()
        timeout = float(timeout if timeout is not None else self.limits.timeout)
        self._acquire()
        try:
            self.calls += 1
            if self._channel is None:
                self._start_sync()
            channel = self._channel
            assert channel is not None
            started = time.monotonic()
            try:
                channel.send(self._request(code, timeout), started + timeout + self.limits.grace)
                reply = channel.recv(started + timeout + self.limits.grace)
            except (ChannelClosed, ChannelTimeout, ProtocolError) as e:
                result = self._failure(e, timeout, started)
                self._stop_worker()
                self.restarts += 1
                self._start_sync()
                return result
            return ExecutionResult.from_reply(reply)
        finally:
            self._lock.release()

    async def aexecute(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Async `execute()`: waits on the worker without blocking the event loop."""
        self._check_open()
        timeout = float(timeout if timeout is not None else self.limits.timeout)
        self._acquire()
        try:
            self.calls += 1
            if self._channel is None:
                await self._start_async()
            channel = self._channel
            assert channel is not None
            started = time.monotonic()
            try:
                await channel.asend(self._request(code, timeout), started + timeout + self.limits.grace)
                reply = await channel.arecv(started + timeout + self.limits.grace)
            except (ChannelClosed, ChannelTimeout, ProtocolError) as e:
                result = self._failure(e, timeout, started)
                await asyncio.to_thread(self._stop_worker) if self._blocking_spawn else self._stop_worker()
                self.restarts += 1
                await self._start_async()
                return result
            except asyncio.CancelledError:
                # the caller gave up mid-call: the worker's state is unknown, so it is replaced next time
                self._stop_worker()
                raise
            return ExecutionResult.from_reply(reply)
        finally:
            self._lock.release()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self.started else "idle"
        return f"<{type(self).__name__} {state} isolation={self.isolation!r}>"
