"""Serve any `SearchBackend` as a small JSON API (standard library only).

    GET /search?q=QUERY&k=5   -> {"results": [{"id", "title", "text", "score"}, ...]}
    GET /doc/DOC_ID           -> {"id", "title", "text"}   (404 when unknown)
    GET /health               -> {"ok": true, "num_docs": N}

`HttpSearchBackend("http://HOST:PORT/search", doc_url="http://HOST:PORT/doc/{id}")` is its client, so an
index built once can serve many training workers.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from agentgym.tools.search.base import SearchBackend

MAX_K = 100


def _handler(backend: SearchBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet by default
            return

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/health":
                self._send(200, {"ok": True, "num_docs": len(backend)})
            elif url.path == "/search":
                qs = parse_qs(url.query)
                query = (qs.get("q") or [""])[0]
                try:
                    k = max(1, min(MAX_K, int((qs.get("k") or ["5"])[0])))
                except ValueError:
                    self._send(400, {"error": "k must be an integer"})
                    return
                hits = backend.search(query, k) if query.strip() else []
                self._send(200, {"results": [h.to_dict() for h in hits]})
            elif url.path.startswith("/doc/"):
                doc = backend.get(unquote(url.path[len("/doc/"):]))
                if doc is None:
                    self._send(404, {"error": "no such document"})
                else:
                    self._send(200, doc.to_dict())
            else:
                self._send(404, {"error": f"unknown path {url.path}"})

    return Handler


class SearchServer:
    """A threaded HTTP server around a backend; `start()` runs it in the background.

    Args:
        backend: what to serve.
        host: the address to bind (loopback by default).
        port: the port (0 picks a free one; read `port` after `start`).
    """

    def __init__(self, backend: SearchBackend, host: str = "127.0.0.1", port: int = 0) -> None:
        self.backend = backend
        self._server = ThreadingHTTPServer((host, port), _handler(backend))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SearchServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="agentgym-search")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SearchServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
