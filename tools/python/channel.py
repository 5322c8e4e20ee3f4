"""Length-prefixed JSON frames over a file descriptor, with deadlines, for sync and async callers.

The descriptor is non-blocking; sync calls wait with `select`, async calls with the running loop's
`add_reader`/`add_writer`, so a channel is not bound to any event loop and may be used from sync and
async code alternately. Docker's attach/exec streams multiplex stdout and stderr with 8-byte headers;
`DockerStreamDecoder` strips them.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


class ChannelClosed(ConnectionError):
    """The worker closed its end (it exited or was killed)."""


class ChannelTimeout(TimeoutError):
    """No complete frame arrived before the deadline."""


class ProtocolError(ConnectionError):
    """The worker sent something that is not a valid frame (its output was corrupted)."""


class DockerStreamDecoder:
    """Demultiplexes Docker's non-TTY stream format into stdout bytes (stderr is kept aside)."""

    def __init__(self) -> None:
        self._buf = b""
        self.stderr = b""

    def __call__(self, data: bytes) -> bytes:
        self._buf += data
        out = []
        while len(self._buf) >= 8:
            kind, size = self._buf[0], struct.unpack(">I", self._buf[4:8])[0]
            if len(self._buf) < 8 + size:
                break
            payload, self._buf = self._buf[8:8 + size], self._buf[8 + size:]
            if kind == 1:
                out.append(payload)
            elif kind == 2 and len(self.stderr) < 65536:
                self.stderr += payload
        return b"".join(out)


class FrameChannel:
    """Frames over a read descriptor and a write descriptor (they may be the same socket)."""

    def __init__(self, read_fd: int, write_fd: int, decoder: Any = None) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.decoder = decoder
        self._buf = b""
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def encode(obj: Any) -> bytes:
        body = json.dumps(obj).encode("utf-8")
        return HEADER.pack(len(body)) + body

    def _take_frame(self) -> Any:
        if len(self._buf) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buf)
        if size > MAX_FRAME:
            raise ProtocolError(f"frame of {size} bytes announced; the worker's output is corrupted")
        if len(self._buf) < HEADER.size + size:
            return None
        body, self._buf = self._buf[HEADER.size:HEADER.size + size], self._buf[HEADER.size + size:]
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ProtocolError(f"undecodable frame from the worker: {e}") from None

    def _read_available(self) -> bool:
        """Read what is there; False on EOF."""
        try:
            data = os.read(self.read_fd, 1 << 20)
        except BlockingIOError:
            return True
        except OSError as e:
            raise ChannelClosed(str(e)) from None
        if not data:
            return False
        if self.decoder is not None:
            data = self.decoder(data)
        self._buf += data
        return True

    def _write_some(self, view: memoryview) -> memoryview:
        try:
            n = os.write(self.write_fd, view)
        except BlockingIOError:
            return view
        except (BrokenPipeError, ConnectionError, OSError) as e:
            raise ChannelClosed(str(e)) from None
        return view[n:]

    # ------------------------------------------------------------------ sync

    def send(self, obj: Any, deadline: float) -> None:
        view = memoryview(self.encode(obj))
        while view:
            view = self._write_some(view)
            if view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout("timed out sending to the worker")
                select.select([], [self.write_fd], [], remaining)

    def recv(self, deadline: float) -> Any:
        while True:
            frame = self._take_frame()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout("timed out waiting for the worker")
            ready, _, _ = select.select([self.read_fd], [], [], remaining)
            if ready and not self._read_available():
                raise ChannelClosed("the worker closed the channel")

    # ------------------------------------------------------------------ async

    @staticmethod
    async def _wait_fd(fd: int, deadline: float, writable: bool) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        (loop.add_writer if writable else loop.add_reader)(fd, ready)
        try:
            await asyncio.wait_for(fut, max(deadline - time.monotonic(), 0.0))
        except TimeoutError:
            raise ChannelTimeout("timed out waiting for the worker") from None
        finally:
            (loop.remove_writer if writable else loop.remove_reader)(fd)

    async def asend(self, obj: Any, deadline: float) -> None:
        view = memoryview(self.encode(obj))
        while view:
            view = self._write_some(view)
            if view:
                await self._wait_fd(self.write_fd, deadline, writable=True)

    async def arecv(self, deadline: float) -> Any:
        while True:
            frame = self._take_frame()
            if frame is not None:
                return frame
            if time.monotonic() >= deadline:
                raise ChannelTimeout("timed out waiting for the worker")
            if not self._read_available():
                raise ChannelClosed("the worker closed the channel")
            if self._take_frame_ready():
                continue
            await self._wait_fd(self.read_fd, deadline, writable=False)

    def _take_frame_ready(self) -> bool:
        if len(self._buf) < HEADER.size:
            return False
        (size,) = HEADER.unpack_from(self._buf)
        return len(self._buf) >= HEADER.size + size or size > MAX_FRAME
