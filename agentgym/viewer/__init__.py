"""A static HTML viewer for runs: episode list, transcripts, side-by-side comparison and training curves.

`agentgym view RUN_DIR [RUN_DIR ...]` (or `build_report`) reads eval folders (`trajectories.jsonl`,
`summary.json`) and training output folders (`metrics.jsonl`, `episodes/step-NNNNNN.jsonl`) and writes one
self-contained HTML file: no CDN, no network, everything inlined.
"""

from agentgym.viewer.build import build_report, make_server, render_html, serve_in_thread, view_command
from agentgym.viewer.data import RunData, RunNotFoundError, load_run

__all__ = ["RunData", "RunNotFoundError", "build_report", "load_run", "make_server", "render_html",
           "serve_in_thread", "view_command"]
