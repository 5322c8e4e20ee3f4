"""MiniWoB++ tasks: the pages the `miniwob` package ships, served locally, and their reward.

Each task is one HTML page (`miniwob/html/miniwob/<task>.html`) whose JavaScript generates a problem, shows
the instruction in `#query` and ends the episode itself with `core.endEpisode(reward)`, which sets the
globals `WOB_REWARD_GLOBAL` (time-discounted), `WOB_RAW_REWARD_GLOBAL` and `WOB_DONE_GLOBAL`. An episode
here does what miniwob's own Python env does (and hides the human score panel, as BrowserGym does): load the page, `Math.seedrandom(seed)`, `core.startEpisodeReal()`,
read the instruction with `core.getUtterance()`, and after each action read those globals.

The pages load their scripts from sibling folders (`core/`, `common/`), so `MiniWoBServer` serves the whole
`html/` folder on a free loopback port from a thread (file:// works for most tasks but not all).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agentgym.tools.browser.base import PageSession, PageState

# every task page miniwob 1.x ships, one name a line (read without importing anything, so registering the env
# ids stays cheap; tests check it against the installed package)
TASKS_FILE = Path(__file__).with_name("tasks.txt")
MINIWOB_TASKS: tuple[str, ...] = tuple(n.strip() for n in TASKS_FILE.read_text().splitlines() if n.strip())

# JavaScript that reads an episode's outcome; `PlaywrightSession.state_script` puts it in `PageState.extra`
STATE_SCRIPT = r"""() => {
  if (typeof WOB_DONE_GLOBAL === 'undefined') return {};
  return {wob_done: !!WOB_DONE_GLOBAL, wob_raw_reward: WOB_RAW_REWARD_GLOBAL, wob_reward: WOB_REWARD_GLOBAL,
          wob_reason: WOB_REWARD_REASON === null || WOB_REWARD_REASON === undefined ? null : String(WOB_REWARD_REASON),
          wob_episode: WOB_EPISODE_ID};
}"""

_START_SCRIPT = r"""(function (seed, maxTime) {
  Math.seedrandom(seed);
  core.EPISODE_MAX_TIME = maxTime;
  core.startEpisodeReal();
  for (const id of ['reward-display', 'click-canvas']) {
    const el = document.getElementById(id);
    if (el) el.style.display = 'none';
  }
  return WOB_TASK_READY;
})(%d, %d)"""


def miniwob_html_dir() -> Path:
    """The `html/` folder of the installed `miniwob` package (found without importing it)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("MiniWoB++ tasks need the `miniwob` package: pip install 'agentgym[web]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "html"
    if not (path / "miniwob").is_dir():
        raise FileNotFoundError(f"the miniwob package has no task pages under {path}")
    return path


def installed_tasks() -> list[str]:
    """The task names whose pages the installed `miniwob` package ships."""
    return sorted(p.stem for p in (miniwob_html_dir() / "miniwob").glob("*.html"))


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class MiniWoBServer:
    """A static HTTP server for the MiniWoB++ pages on a free loopback port, in a daemon thread.

    `MiniWoBServer.acquire()` hands out one shared server per process (started on first use) and `release()`
    stops it when its last user is done.
    """

    _shared: MiniWoBServer | None = None
    _users = 0
    _lock = threading.Lock()

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else miniwob_html_dir()
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="miniwob-http", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/miniwob/`: a task's page is `base_url + task + ".html"`."""
        return f"http://127.0.0.1:{self.port}/miniwob/"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @classmethod
    def acquire(cls) -> MiniWoBServer:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            cls._users += 1
            return cls._shared

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            cls._users = max(0, cls._users - 1)
            if cls._users == 0 and cls._shared is not None:
                cls._shared.stop()
                cls._shared = None


@dataclass
class MiniWoBOutcome:
    """What the task's JavaScript says of the episode: done, its raw reward in [-1, 1] (1 solved, -1 a wrong
    answer or a timeout), the time-discounted reward, and the reason when the page gives one."""

    done: bool
    raw_reward: float
    reward: float
    reason: str | None = None

    @property
    def success(self) -> bool:
        return self.done and self.raw_reward > 0


def outcome_from_extra(extra: dict[str, Any]) -> MiniWoBOutcome:
    """A `MiniWoBOutcome` from `PageState.extra` filled by `STATE_SCRIPT`."""
    return MiniWoBOutcome(bool(extra.get("wob_done", False)), float(extra.get("wob_raw_reward") or 0.0),
                          float(extra.get("wob_reward") or 0.0), extra.get("wob_reason"))


@dataclass
class MiniWoBTask:
    """One MiniWoB++ task: where its page is, how an episode starts, how its reward is read.

    Args:
        name: the task, e.g. "click-button" (one of `MINIWOB_TASKS`).
        base_url: where the pages are served (`MiniWoBServer.base_url`).
        episode_max_time_ms: the page's own time limit for an episode (miniwob's default is 10 s, too short
            for a model; BrowserGym uses 1,000,000 ms, so do we).
    """

    name: str
    base_url: str
    episode_max_time_ms: int = 1_000_000

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.name}.html"

    async def start(self, session: PageSession, seed: int, load: bool = True) -> tuple[str, PageState]:
        """Start an episode with `seed` (loading the page first unless `load=False`: it is loaded already);
        returns (the instruction, the page). Sets the session's `state_script` (when it has one) so every
        `PageState.extra` carries the outcome (`outcome_from_extra`)."""
        if hasattr(session, "state_script"):
            session.state_script = STATE_SCRIPT
        if load:
            await session.goto(self.url)
        ready = await session.evaluate(_START_SCRIPT % (int(seed), int(self.episode_max_time_ms)))
        for _ in range(40):
            if ready:
                break
            await asyncio.sleep(0.05)
            ready = await session.evaluate("WOB_TASK_READY")
        renumber = getattr(session, "renumber", None)
        if renumber is not None:  # the task's elements exist now: number them from "1"
            await renumber()
        utterance = await session.evaluate("core.getUtterance()")
        if isinstance(utterance, dict):  # a few tasks return {utterance, fields}
            utterance = utterance.get("utterance", "")
        return str(utterance), await session.state()

    async def read_outcome(self, session: PageSession) -> MiniWoBOutcome:
        """The episode's outcome as the page's JavaScript has it now."""
        extra = await session.evaluate(STATE_SCRIPT)
        return outcome_from_extra(extra or {})
