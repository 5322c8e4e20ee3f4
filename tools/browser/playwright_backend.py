"""`PlaywrightBackend`: real Chromium through Playwright's async API.

One browser process per backend, one browser context per `PlaywrightSession` (one episode), at most
`max_contexts` sessions open at once (the rest wait). Every Playwright call runs under a timeout and races the
browser's death, so a session whose browser crashed or was killed raises `BackendCrashed` at once instead of
hanging; the next `new_session()` launches a fresh browser.

After every load and action the session runs the id-injection script (`tools/browser/inject.py`), so the HTML
in each `PageState` carries `data-agid` ids on every element matching `INTERACTIVE_SELECTOR`, and actions name
their target by that id.

    backend = PlaywrightBackend(max_contexts=4)
    session = await backend.new_session()
    state = await session.goto("http://127.0.0.1:8000/")
    state = await session.act(WebAction("click", {"bid": "3"}))
    await session.close(); await backend.aclose()

A backend belongs to the event loop that first used it (Playwright's objects are bound to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from agentgym.tools.browser.base import (
    AGID_ATTR,
    ActionError,
    BackendCrashed,
    PageSession,
    PageState,
    WebAction,
    WebBackend,
)
from agentgym.tools.browser.chromium import CHROMIUM_ARGS, find_chromium
from agentgym.tools.browser.inject import ID_SCRIPT, INIT_SCRIPT, id_script_args

T = TypeVar("T")

_CLOSED_MARKERS = ("has been closed", "Target closed", "Browser closed", "browser has disconnected",
                   "Connection closed", "crashed")


def _import_playwright() -> Any:
    try:
        from playwright import async_api
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("the Playwright backend needs the `playwright` package: pip install 'agentgym[web]'") from e
    return async_api


def _pid_alive(pid: int | None) -> bool:
    """Whether process `pid` exists and is not a zombie (Linux /proc; elsewhere: signal 0)."""
    if pid is None:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    state = text[text.rfind(")") + 2:][:1]
    return state not in ("Z", "X")


def _find_pid_by_marker(marker: str) -> int | None:
    """The PID of the process whose command line carries `marker` and whose parent does not (the browser's
    main process; its helpers are its children)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    found: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            if marker.encode() not in cmd:
                continue
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = ppid
    roots = [pid for pid, ppid in found.items() if ppid not in found]
    return min(roots) if roots else None


class _Browser:
    """One launched browser process: the Playwright object, its PID, and an event set when it dies."""

    def __init__(self, browser: Any, pid: int | None) -> None:
        self.browser = browser
        self.pid = pid
        self.dead = asyncio.Event()
        browser.on("disconnected", lambda *_: self.dead.set())

    def alive(self) -> bool:
        if self.dead.is_set():
            return False
        if not self.browser.is_connected() or not _pid_alive(self.pid):
            self.dead.set()
            return False
        return True


class PlaywrightSession(PageSession):
    """One episode in its own browser context: tabs, history, cookies.

    Attributes:
        state_script: optional JavaScript function source (`() => ({...})`) run at every `state()`; the
            object it returns goes into `PageState.extra` (a MiniWoB task reads its reward and done flag so).
    """

    def __init__(self, backend: PlaywrightBackend, handle: _Browser, context: Any, page: Any) -> None:
        self._backend = backend
        self._handle = handle
        self._context = context
        self._pages: list[Any] = []
        self._active = 0
        self._closed = False
        self.state_script: str | None = None
        context.on("page", self._on_page)
        self._add_page(page)
        self._active = 0

    # ------------------------------------------------------------------ pages

    def _add_page(self, page: Any) -> None:
        if page in self._pages:
            return
        self._pages.append(page)
        page.on("close", lambda p: self._on_close(p))

    def _on_page(self, page: Any) -> None:
        # a popup or window.open: it becomes the active tab, as in a browser
        self._add_page(page)
        self._active = len(self._pages) - 1

    def _on_close(self, page: Any) -> None:
        if page in self._pages:
            i = self._pages.index(page)
            self._pages.pop(i)
            if self._active >= len(self._pages) or self._active > i:
                self._active = max(0, self._active - 1)

    @property
    def page(self) -> Any:
        """The active tab's Playwright `Page`."""
        if not self._pages:
            self._check()  # the pages of a dead browser are gone: that is a crash, not an empty window
            raise ActionError("no open tab")
        return self._pages[self._active]

    @property
    def browser_pid(self) -> int | None:
        """The PID of the browser process this session runs in."""
        return self._handle.pid

    # ------------------------------------------------------------------ guarded calls

    def _check(self) -> None:
        if self._closed:
            raise ActionError("this session is closed")
        if not self._handle.alive():
            raise BackendCrashed(f"the browser (pid {self._handle.pid}) died; start a new session")

    async def _call(self, make: Callable[[], Awaitable[T]], timeout: float, what: str) -> T:
        """Run one Playwright call under `timeout`, racing the browser's death."""
        self._check()
        pw = _import_playwright()
        task = asyncio.ensure_future(make())
        dead = asyncio.ensure_future(self._handle.dead.wait())
        try:
            done, _ = await asyncio.wait({task, dead}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            dead.cancel()
        if task not in done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            self._check()
            raise ActionError(f"{what}: no answer from the page in {timeout:g} s")
        try:
            return task.result()
        except pw.TimeoutError as e:
            self._check()
            raise ActionError(f"{what}: {_first_line(e)}") from e
        except pw.Error as e:
            msg = str(e)
            if not self._handle.alive() or any(m in msg for m in _CLOSED_MARKERS):
                self._handle.alive()
                raise BackendCrashed(f"the browser died during {what}: {_first_line(e)}") from e
            raise ActionError(f"{what}: {_first_line(e)}") from e

    async def _locate(self, bid: Any) -> Any:
        if bid is None or str(bid).strip() == "":
            raise ActionError("missing element id (bid)")
        bid = str(bid).strip()
        loc = self.page.locator(f'[{AGID_ATTR}="{_css_escape(bid)}"]')
        n = await self._call(loc.count, self._backend.action_timeout, f"find element {bid}")
        if n == 0:
            raise ActionError(f"no element with id {bid!r} on this page")
        return loc.first

    async def _settle(self) -> None:
        """Wait for a navigation the action started, then number the page's elements."""
        with contextlib.suppress(ActionError):
            await self._call(lambda: self.page.wait_for_load_state("load", timeout=self._backend.nav_timeout * 1000),
                             self._backend.nav_timeout + 1, "wait for the page to load")

    async def _inject(self, renumber: bool = False) -> str | None:
        try:
            out = await self._call(lambda: self.page.evaluate(ID_SCRIPT, id_script_args(renumber)),
                                   self._backend.action_timeout, "number elements")
        except ActionError:
            # the document was replaced mid-script (a navigation): wait once and retry
            await self._settle()
            out = await self._call(lambda: self.page.evaluate(ID_SCRIPT, id_script_args(renumber)),
                                   self._backend.action_timeout, "number elements")
        return (out or {}).get("focused")

    async def renumber(self) -> PageState:
        """Drop every id on the page and number it afresh from "1" (a new episode on the same page)."""
        await self._inject(renumber=True)
        return await self.state()

    # ------------------------------------------------------------------ PageSession API

    async def goto(self, url: str) -> PageState:
        t = self._backend.nav_timeout
        await self._call(lambda: self.page.goto(url, wait_until="load", timeout=t * 1000), t + 1, f"goto {url}")
        return await self.state()

    async def state(self, screenshot: bool = False) -> PageState:
        self._check()
        page = self.page
        t = self._backend.action_timeout
        focused = await self._inject()
        html = await self._call(page.content, t, "read the page")
        title = await self._call(page.title, t, "read the title")
        extra: dict[str, Any] = {}
        if self.state_script:
            value = await self._call(lambda: page.evaluate(self.state_script), t, "read the page state")
            if isinstance(value, dict):
                extra.update(value)
        shot = None
        if screenshot:
            shot = await self._call(lambda: page.screenshot(type="png", timeout=t * 1000), t + 1, "screenshot")
        return PageState(url=page.url, title=title, html=html, tabs=[p.url for p in self._pages],
                         active_tab=self._active, focused=focused, screenshot=shot, extra=extra)

    async def evaluate(self, script: str, arg: Any = None) -> Any:
        """Run JavaScript in the active tab: an expression, or a function source called with `arg`."""
        t = self._backend.action_timeout
        if arg is None:
            return await self._call(lambda: self.page.evaluate(script), t, "evaluate")
        return await self._call(lambda: self.page.evaluate(script, arg), t, "evaluate")

    async def act(self, action: WebAction) -> PageState:
        self._check()
        name, args = action.name, dict(action.args or {})
        handler = getattr(self, f"_do_{name}", None)
        if handler is None:
            raise ActionError(f"unknown action {name!r}")
        try:
            await handler(**args)
        except TypeError as e:
            raise ActionError(f"bad arguments for {name}: {e}") from e
        await self._settle()
        return await self.state()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._handle.alive():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._context.close(), 10)
        finally:
            self._backend._release()

    # ------------------------------------------------------------------ actions

    def _ms(self) -> float:
        return self._backend.action_timeout * 1000

    async def _do_click(self, bid: Any, button: str = "left", modifiers: Sequence[str] | None = None) -> None:
        loc = await self._locate(bid)
        kw: dict[str, Any] = {"button": button, "timeout": self._ms()}
        if modifiers:
            kw["modifiers"] = list(modifiers)
        await self._call(lambda: loc.click(**kw), self._backend.action_timeout + 1, f"click {bid}")

    async def _do_fill(self, bid: Any, value: Any) -> None:
        loc = await self._locate(bid)
        await self._call(lambda: loc.fill(str(value), timeout=self._ms()), self._backend.action_timeout + 1,
                         f"fill {bid}")

    async def _do_select_option(self, bid: Any, options: Any) -> None:
        loc = await self._locate(bid)
        values = [str(o) for o in options] if isinstance(options, (list, tuple)) else str(options)
        await self._call(lambda: loc.select_option(values, timeout=self._ms()), self._backend.action_timeout + 1,
                         f"select_option {bid}")

    async def _do_press(self, key: str, bid: Any = None) -> None:
        if bid is None:
            await self._call(lambda: self.page.keyboard.press(str(key)), self._backend.action_timeout,
                             f"press {key}")
            return
        loc = await self._locate(bid)
        await self._call(lambda: loc.press(str(key), timeout=self._ms()), self._backend.action_timeout + 1,
                         f"press {key} on {bid}")

    async def _do_hover(self, bid: Any) -> None:
        loc = await self._locate(bid)
        await self._call(lambda: loc.hover(timeout=self._ms()), self._backend.action_timeout + 1, f"hover {bid}")

    async def _do_scroll(self, dx: float = 0, dy: float = 0) -> None:
        await self._call(lambda: self.page.evaluate("([x, y]) => window.scrollBy(x, y)", [float(dx), float(dy)]),
                         self._backend.action_timeout, "scroll")

    async def _do_goto(self, url: str) -> None:
        t = self._backend.nav_timeout
        before = self.page.url
        try:
            await self._call(lambda: self.page.goto(str(url), wait_until="load", timeout=t * 1000), t + 1,
                             f"goto {url}")
        except ActionError:
            # a failed navigation may commit Chromium's error page (a history entry): go back to where the
            # tab was
            await asyncio.sleep(0.05)
            await self._settle()
            if self.page.url != before:
                with contextlib.suppress(ActionError):
                    await self._call(lambda: self.page.go_back(wait_until="load", timeout=t * 1000), t + 1,
                                     "go_back")
                await self._settle()
            raise

    async def _do_go_back(self) -> None:
        await self._history("go_back")

    async def _do_go_forward(self) -> None:
        await self._history("go_forward")

    async def _history(self, name: str) -> None:
        t = self._backend.nav_timeout
        before = self.page.url
        move = getattr(self.page, name)
        resp = await self._call(lambda: move(wait_until="load", timeout=t * 1000), t + 1, name)
        # None means no history entry, or a same-document move (then the URL changed)
        if resp is None and self.page.url == before:
            where = "previous" if name == "go_back" else "next"
            raise ActionError(f"{name}: there is no {where} page in this tab")

    async def _do_tab_focus(self, index: int) -> None:
        i = int(index)
        if not 0 <= i < len(self._pages):
            raise ActionError(f"tab_focus: no tab {i} (open tabs: 0..{len(self._pages) - 1})")
        self._active = i
        await self._call(self.page.bring_to_front, self._backend.action_timeout, "tab_focus")

    async def _do_new_tab(self, url: str | None = None) -> None:
        page = await self._call(self._context.new_page, self._backend.action_timeout, "new_tab")
        self._add_page(page)
        self._active = self._pages.index(page)
        if url:
            await self._do_goto(url)

    async def _do_tab_close(self) -> None:
        if len(self._pages) <= 1:
            raise ActionError("tab_close: cannot close the only open tab")
        page = self.page
        await self._call(page.close, self._backend.action_timeout, "tab_close")
        self._on_close(page)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _css_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class PlaywrightBackend(WebBackend):
    """Chromium via Playwright's async API: one browser, one context per session, relaunched after a crash.

    Args:
        max_contexts: sessions open at once; `new_session()` waits for a free slot beyond that.
        headless: run without a window (the default; there is no display here).
        executable_path: the browser; default `find_chromium()`.
        args: extra Chromium command-line flags (added to `CHROMIUM_ARGS`).
        action_timeout: seconds an action (click, fill, evaluate ...) may take before it is an `ActionError`.
        nav_timeout: seconds a navigation may take.
        launch_timeout: seconds the browser may take to start.
        viewport: the page size, e.g. `{"width": 1280, "height": 720}`.
    """

    def __init__(
        self,
        max_contexts: int = 8,
        headless: bool = True,
        executable_path: str | None = None,
        args: Sequence[str] = (),
        action_timeout: float = 5.0,
        nav_timeout: float = 15.0,
        launch_timeout: float = 30.0,
        viewport: dict[str, int] | None = None,
    ) -> None:
        if max_contexts < 1:
            raise ValueError("max_contexts must be >= 1")
        self.max_contexts = max_contexts
        self.headless = headless
        self.executable_path = executable_path
        self.args = tuple(args)
        self.action_timeout = action_timeout
        self.nav_timeout = nav_timeout
        self.launch_timeout = launch_timeout
        self.viewport = viewport or {"width": 1280, "height": 720}
        self._pw: Any = None
        self._handle: _Browser | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem: asyncio.Semaphore | None = None
        self._lock: asyncio.Lock | None = None
        self._open = 0
        self.launches = 0

    @property
    def browser_pid(self) -> int | None:
        """The PID of the current browser process (None before the first session)."""
        return self._handle.pid if self._handle is not None else None

    @property
    def open_sessions(self) -> int:
        return self._open

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed() and self._loop.is_running():
            raise RuntimeError("a PlaywrightBackend is bound to the event loop that first used it; make one "
                               "backend per loop")
        if self._loop is not None:  # the old loop is gone: its objects cannot be closed, only the processes
            self._abandon()
        self._loop = loop
        self._sem = asyncio.Semaphore(self.max_contexts)
        self._lock = asyncio.Lock()
        self._open = 0

    def _abandon(self) -> None:
        if self._handle is not None and self._handle.pid is not None and _pid_alive(self._handle.pid):
            with contextlib.suppress(OSError):
                os.kill(self._handle.pid, signal.SIGKILL)
        driver = _driver_pid(self._pw)
        if driver is not None and _pid_alive(driver):
            with contextlib.suppress(OSError):
                os.kill(driver, signal.SIGTERM)
        self._handle = None
        self._pw = None

    async def _ensure_browser(self) -> _Browser:
        assert self._lock is not None
        async with self._lock:
            if self._handle is not None and self._handle.alive():
                return self._handle
            old, self._handle = self._handle, None
            if old is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(old.browser.close(), 5)
            async_api = _import_playwright()
            if self._pw is None:
                self._pw = await asyncio.wait_for(async_api.async_playwright().start(), self.launch_timeout)
            marker = f"--agentgym-browser={uuid.uuid4().hex}"
            exe = self.executable_path or find_chromium()
            try:
                browser = await asyncio.wait_for(
                    self._pw.chromium.launch(executable_path=exe, headless=self.headless,
                                             args=[*CHROMIUM_ARGS, *self.args, marker],
                                             timeout=self.launch_timeout * 1000),
                    self.launch_timeout + 5)
            except async_api.Error as e:
                raise BackendCrashed(f"could not start Chromium ({exe}): {_first_line(e)}") from e
            self._handle = _Browser(browser, _find_pid_by_marker(marker))
            self.launches += 1
            return self._handle

    async def new_session(self) -> PlaywrightSession:
        """A fresh browser context with one blank tab (waits while `max_contexts` sessions are open)."""
        self._bind_loop()
        assert self._sem is not None
        await self._sem.acquire()
        self._open += 1
        try:
            for attempt in range(2):
                handle = await self._ensure_browser()
                try:
                    context = await asyncio.wait_for(handle.browser.new_context(viewport=self.viewport),
                                                     self.launch_timeout)
                    await asyncio.wait_for(context.add_init_script(INIT_SCRIPT), self.action_timeout)
                    page = await asyncio.wait_for(context.new_page(), self.launch_timeout)
                    return PlaywrightSession(self, handle, context, page)
                except Exception:
                    if attempt == 1 or handle.alive():
                        raise
                    # the browser died between the check and the call: relaunch once
            raise BackendCrashed("could not open a browser context")  # pragma: no cover
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._sem is not None and self._open > 0:
            self._open -= 1
            self._sem.release()

    async def aclose(self) -> None:
        """Close the browser and Playwright's driver (open sessions end with `BackendCrashed`)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                if handle.alive():
                    await asyncio.wait_for(handle.browser.close(), 10)
            except Exception:
                if handle.pid is not None and _pid_alive(handle.pid):
                    with contextlib.suppress(OSError):
                        os.kill(handle.pid, signal.SIGKILL)
            handle.dead.set()
        pw, self._pw = self._pw, None
        if pw is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pw.stop(), 10)

    async def __aenter__(self) -> PlaywrightBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _driver_pid(pw: Any) -> int | None:
    """The PID of Playwright's driver process (private attributes; None when they moved)."""
    try:
        return int(pw._impl_obj._connection._transport._proc.pid)
    except (AttributeError, TypeError, ValueError):
        return None
