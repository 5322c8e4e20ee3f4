"""Building the self-contained HTML report from run folders, and serving it on loopback.

The page is one file: the stylesheet, the script (`assets/viewer.js`, vanilla JS written for this viewer) and
the data are inlined, and its Content-Security-Policy forbids every network request (images only as `data:`
URLs). Two data blocks are embedded: a small JSON document (runs, metric series, one summary row per episode)
parsed at load, and the transcripts as JSON lines in a `text/plain` script element, each line parsed only when
its episode is opened. That keeps the load time of a 10,000-episode run under two seconds (bench/viewer_load.py).
"""

from __future__ import annotations

import html
import http.server
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from agentgym.viewer.data import (
    ROW_COLUMNS,
    Interner,
    RunData,
    episode_record,
    episode_row,
    iter_episodes,
    load_run,
)

REPORT_NAME = "report.html"
_PLACEHOLDER = re.compile(r"__(TITLE|CSS|JS|META|EPISODES)__")


def _asset(name: str) -> str:
    return resources.files("agentgym.viewer").joinpath("assets", name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """JSON text that cannot end its <script> element or open an HTML comment inside it (`<` only occurs in
    JSON strings, where `<\\/` and `\\u003c` decode to the same characters)."""
    return text.replace("</", "<\\/").replace("<!--", "\\u003c!--")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)


def _clean(value: Any) -> Any:
    """Non-finite floats (NaN rewards from a broken run) as None, so the data stays valid JSON."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _pass_k(run: RunData) -> dict[str, Any] | None:
    """Mean pass@k and pass^k over a run's eval tasks, k = the smallest trial count (>= 2), else None."""
    from agentgym.eval.metrics import pass_at_k, pass_hat_k

    by_task: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for t, step in run.episodes:
        if step is None and t.finished:
            by_task[(t.env_id, t.task_id)].append(t.success)
    if not by_task:
        return None
    k = min(len(v) for v in by_task.values())
    if k < 2:
        return None
    n = len(by_task)
    return {"k": k, "tasks": n, "at": sum(pass_at_k(len(v), sum(v), k) for v in by_task.values()) / n,
            "hat": sum(pass_hat_k(len(v), sum(v), k) for v in by_task.values()) / n}


def render_html(runs: Sequence[RunData], title: str | None = None) -> str:
    """The report page for `runs` as one HTML string."""
    envs, tools, agents, strings = Interner(), Interner(), Interner(), Interner()
    rows: list[list[Any]] = []
    lines: list[str] = []
    for run_index, t, step in iter_episodes(list(runs)):
        rows.append(episode_row(run_index, t, step, envs, tools, agents))
        lines.append(_dumps(_clean(episode_record(t, step, strings))))
    meta = {
        "version": 1,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runs": [{"name": r.name, "path": r.path, "kind": r.kind, "summary": r.summary, "steps": r.steps,
                  "series": r.series, "episodes": len(r.episodes), "skipped_lines": r.skipped_lines,
                  "skipped_files": r.skipped_files, "pass": _pass_k(r)} for r in runs],
        "cols": ROW_COLUMNS, "rows": rows, "envs": envs.strings, "tools": tools.strings, "agents": agents.strings,
        "strings": strings.strings,
    }
    title = title or "agentgym: " + ", ".join(r.name for r in runs)
    parts = {
        "TITLE": html.escape(title),
        "CSS": _asset("viewer.css"),
        "JS": _asset("viewer.js"),
        "META": _script_safe(_dumps(_clean(meta))),
        "EPISODES": _script_safe("\n".join(lines)),
    }
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("page.html"))


def build_report(paths: Sequence[str | Path], out: str | Path | None = None, title: str | None = None) -> Path:
    """Read the run folders in `paths` and write the report; returns its path.

    Default `out`: `report.html` inside the first run folder. A name appears once per run: two folders that
    share a name (`a/run`, `b/run`) are shown by their paths relative to their common parent.
    """
    if not paths:
        raise ValueError("give at least one run folder")
    names = _names([Path(p) for p in paths])
    runs = [load_run(p, name) for p, name in zip(paths, names, strict=True)]
    if out is None:
        first = Path(paths[0])
        out = (first if first.is_dir() else first.parent) / REPORT_NAME
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_html(runs, title), encoding="utf-8")
    tmp.replace(target)
    return target


def _names(paths: list[Path]) -> list[str]:
    names = [(p if p.is_dir() else p.parent).resolve().name or str(p) for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in paths]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the report file only (at `/` and at its name), never the rest of the run folder."""

    report: Path = Path(REPORT_NAME)

    def _send(self, body: bool) -> None:
        name = self.path.split("?", 1)[0].split("#", 1)[0].strip("/")
        if name not in ("", self.report.name):
            self.send_error(404, "only the report is served here")
            return
        data = self.report.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(True)

    def do_HEAD(self) -> None:
        self._send(False)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request is noise here
        return None


def make_server(report: str | Path, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the report, bound to loopback (`port` 0: a free one); call `serve_forever()` (or run
    it in a thread) and `shutdown()`."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the report is served on loopback only, not {host!r}")
    handler = type("ReportHandler", (_Handler,), {"report": Path(report).resolve()})
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def report_url(server: http.server.ThreadingHTTPServer, report: str | Path) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/{Path(report).name}"


def serve_in_thread(report: str | Path, port: int = 0) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve the report from a daemon thread; returns the server (call `shutdown()`) and the page URL."""
    server = make_server(report, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, report_url(server, report)


def view_command(paths: Sequence[str | Path]) -> str:
    """The shell command that builds and serves the report of `paths`."""
    import shlex

    return "agentgym view " + " ".join(shlex.quote(str(p)) for p in paths) + " --serve"
