"""`ShopServer`: the shop served by uvicorn on a free loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType

import uvicorn
from agentgym.envs.web.shop.site import ShopSite


class ShopServer:
    """Serves a `ShopSite` at `http://127.0.0.1:<free port>` from a daemon thread.

    One server is shared by all episodes of an env (each episode has its own shop session). Use it as a
    context manager, or call `start()` and `close()`; `close()` stops the server, joins the thread and frees
    the port.

    Args:
        site: the shop (default: a new `ShopSite` over the default catalogue).
        host: the address to listen on.
        start_timeout: seconds to wait for the server to accept connections.
    """

    def __init__(self, site: ShopSite | None = None, host: str = "127.0.0.1", start_timeout: float = 20.0) -> None:
        self.site = site or ShopSite()
        self.host = host
        self.start_timeout = start_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        """`http://host:port` (the server must be started)."""
        if self.port is None:
            raise RuntimeError("the shop server is not running: call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def url(self, path: str = "/") -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def session_url(self, sid: str) -> str:
        """The home page of shop session `sid`."""
        return self.url(ShopSite.home_path(sid))

    def start(self) -> ShopServer:
        """Bind a free port and serve; returns when the server accepts connections."""
        if self.running:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted connections inherit it: without it a keep-alive response waits ~40 ms on delayed ACKs
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        self._sock, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(self.site.app, log_level="warning", access_log=False, lifespan="off",
                                loop="asyncio", http="h11", ws="none", timeout_graceful_shutdown=2)
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(server, sock), name=f"shop-server-{self.port}",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the shop server did not start")
            time.sleep(0.01)
        return self

    @staticmethod
    def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        asyncio.run(server.serve(sockets=[sock]))

    def close(self) -> None:
        """Stop serving, join the thread and release the port (idempotent)."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=5)
        if sock is not None:
            sock.close()
        self.port = None

    def __enter__(self) -> ShopServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
