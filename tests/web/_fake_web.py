"""A tiny deterministic web site for WebEnv and tree-search tests: pages in a dict, links, buttons, fields.

`FakeBackend(site)` serves it through the `WebBackend`/`PageSession` contract; `fake_render` is a minimal
stand-in for `agentgym.tools.browser.axtext.render` (one line per element, ids in brackets).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from agentgym.tools.browser.base import (
    AGID_ATTR,
    ActionError,
    BackendCrashed,
    PageSession,
    PageState,
    WebAction,
    WebBackend,
)

from agentgym.tasks import Task, TaskDataset


@dataclass
class Element:
    kind: str  # "link" | "button" | "textbox" | "select"
    label: str
    target: str | None = None  # link: the URL it opens; button: "crash" or a URL
    options: tuple[str, ...] = ()


@dataclass
class Page:
    title: str
    text: str = ""
    elements: list[Element] = field(default_factory=list)


class FakeSession(PageSession):
    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.history: list[str] = []
        self.pos = -1
        self.values: dict[str, Any] = {}
        self.closed = False

    @property
    def url(self) -> str:
        return self.history[self.pos] if self.history else "about:blank"

    def _open(self, url: str) -> None:
        if url not in self.backend.site:
            raise ActionError(f"cannot open {url}: no such page")
        self.history = [*self.history[: self.pos + 1], url]
        self.pos = len(self.history) - 1
        self.values = {}

    def _element(self, bid: str) -> Element:
        elements = self.backend.site[self.url].elements
        if not bid.isdigit() or not 1 <= int(bid) <= len(elements):
            raise ActionError(f"no element with id [{bid}]")
        return elements[int(bid) - 1]

    async def goto(self, url: str) -> PageState:
        self._open(url)
        return await self.state()

    async def act(self, action: WebAction) -> PageState:
        self.backend.actions.append(action)
        name, a = action.name, action.args
        if name == "click":
            el = self._element(a["bid"])
            if el.kind == "button" and el.target == "crash":
                raise BackendCrashed("the fake browser died")
            if el.kind == "button" and el.target == "hang":
                import asyncio

                await asyncio.sleep(3600)
            if el.target is None:
                raise ActionError(f"[{a['bid']}] is not clickable")
            self._open(el.target)
        elif name == "fill":
            el = self._element(a["bid"])
            if el.kind != "textbox":
                raise ActionError(f"[{a['bid']}] is not a text field")
            self.values[a["bid"]] = a["value"]
        elif name == "select_option":
            el = self._element(a["bid"])
            bad = [o for o in a["options"] if o not in el.options]
            if el.kind != "select" or bad:
                raise ActionError(f"cannot select {bad or a['options']} in [{a['bid']}]")
            self.values[a["bid"]] = list(a["options"])
        elif name in ("hover", "scroll"):
            if "bid" in a:
                self._element(a["bid"])
        elif name == "press":
            if a.get("bid"):
                self._element(a["bid"])
        elif name == "goto":
            self._open(a["url"])
        elif name == "go_back":
            if self.pos <= 0:
                raise ActionError("no previous page")
            self.pos -= 1
        elif name == "go_forward":
            if self.pos >= len(self.history) - 1:
                raise ActionError("no next page")
            self.pos += 1
        elif name == "tab_focus":
            if a["index"] != 0:
                raise ActionError(f"no tab {a['index']}")
        else:
            raise ActionError(f"{name} is not supported")
        return await self.state()

    async def state(self, screenshot: bool = False) -> PageState:
        page = self.backend.site[self.url]
        parts = [f"<h1>{html.escape(page.title)}</h1>", f"<p>{html.escape(page.text)}</p>"]
        for i, el in enumerate(page.elements, 1):
            value = self.values.get(str(i))
            attrs = f'{AGID_ATTR}="{i}" data-kind="{el.kind}" data-label="{html.escape(el.label)}"'
            shown = html.escape(str(value)) if value else ""
            if el.kind == "link":
                parts.append(f'<a href="{el.target}" {attrs}>{html.escape(el.label)}</a>')
            elif el.kind == "button":
                parts.append(f"<button {attrs}>{html.escape(el.label)}</button>")
            elif el.kind == "textbox":
                parts.append(f'<input type="text" aria-label="{html.escape(el.label)}" {attrs} value="{shown}">')
            else:
                opts = "".join(f"<option{' selected' if value and o in value else ''}>{o}</option>" for o in el.options)
                parts.append(f'<select aria-label="{html.escape(el.label)}" {attrs} value="{shown}">{opts}</select>')
        return PageState(url=self.url, title=page.title, html="\n".join(parts), tabs=[self.url],
                         screenshot=b"\x89PNG fake " + self.url.encode() if screenshot else None,
                         extra={"values": dict(self.values)})

    async def close(self) -> None:
        self.closed = True
        self.backend.closed += 1


class FakeBackend(WebBackend):
    def __init__(self, site: dict[str, Page], crash_sessions: int = 0) -> None:
        self.site = site
        self.sessions: list[FakeSession] = []
        self.actions: list[WebAction] = []
        self.closed = 0
        self.crash_sessions = crash_sessions  # the first N new_session calls crash
        self.stopped = False

    async def new_session(self) -> PageSession:
        if self.crash_sessions > 0:
            self.crash_sessions -= 1
            raise BackendCrashed("the fake browser would not start")
        s = FakeSession(self)
        self.sessions.append(s)
        return s

    async def aclose(self) -> None:
        self.stopped = True


def fake_render(state: PageState, max_chars: int | None = None) -> str:
    """A minimal accessibility text: header, then one line per element with its id."""
    import re

    lines = [f"URL: {state.url}", f"Title: {state.title}", ""]
    pattern = (r"<h1>(.*?)</h1>|<p>(.*?)</p>|" + AGID_ATTR
               + r'="(\d+)" data-kind="(\w+)" data-label="(.*?)"(?: value="(.*?)")?')
    for m in re.finditer(pattern, state.html):
        if m.group(1) is not None:
            lines.append(f"heading '{html.unescape(m.group(1))}'")
        elif m.group(2) is not None:
            if m.group(2):
                lines.append(f"StaticText '{html.unescape(m.group(2))}'")
        else:
            value = f" value='{html.unescape(m.group(6))}'" if m.group(6) else ""
            lines.append(f"[{m.group(3)}] {m.group(4)} '{html.unescape(m.group(5))}'{value}")
    text = "\n".join(lines)
    if max_chars is not None and len(text) > max_chars:
        return text[:max_chars] + "\n[page cut]"
    return text


def shop_site() -> dict[str, Page]:
    """Home -> search form, a product page with a color select, a crash button, a long page."""
    return {
        "/home": Page("Home", "Welcome to the shop.", [
            Element("link", "Products", "/products"), Element("textbox", "Search"),
            Element("button", "Broken button", "crash"), Element("link", "Long page", "/long"),
            Element("select", "Color", options=("red", "blue")), Element("button", "Slow button", "hang"),
        ]),
        "/products": Page("Products", "Two products.", [
            Element("link", "Boots", "/boots"), Element("link", "Home", "/home"),
        ]),
        "/boots": Page("Boots", "Hiking boots, $80.", [Element("link", "Home", "/home")]),
        "/long": Page("Long", "word " * 5000, [Element("link", "Home", "/home")]),
    }


def shop_tasks() -> TaskDataset:
    return TaskDataset([
        Task("boots", "Open the page of the boots.", answer="/boots", metadata={"start_url": "/home"}),
        Task("price", "What do the boots cost?", answer="$80", metadata={"start_url": "/home"}),
    ])


def shop_reward(page: PageState, task: Task, session: PageSession, answer: str | None = None) -> tuple[float, bool]:
    if task.id == "boots":
        return float(page.url == "/boots"), page.url == "/boots"
    if answer is not None:
        return float(task.answer in answer), True
    return 0.0, False


# ---------------------------------------------------------------------------------------------- the maze


@dataclass
class Maze:
    """`depth` rooms in a row; each has `width` doors, one leads on, the others to dead ends."""

    site: dict[str, Page]
    solution: dict[str, str]  # url -> the id of the right door


def make_maze(seed: int, depth: int = 6, width: int = 3) -> Maze:
    rng = np.random.default_rng(seed)
    site: dict[str, Page] = {}
    solution: dict[str, str] = {}
    for k in range(depth):
        right = int(rng.integers(width))
        elements = []
        for j in range(width):
            target = f"/m{seed}/room{k + 1}" if k + 1 < depth else f"/m{seed}/goal"
            if j != right:
                target = f"/m{seed}/dead{k}_{j}"
                site[target] = Page("Dead end", "A dead end. There is no way out.")
            elements.append(Element("link", f"Door {'ABCDEFG'[j]}", target))
        site[f"/m{seed}/room{k}"] = Page(f"Room {k}", f"Room {k} of the maze.", elements)
        solution[f"/m{seed}/room{k}"] = str(right + 1)
    site[f"/m{seed}/goal"] = Page("Goal reached", "You found the exit.")
    return Maze(site, solution)


def maze_reward(page: PageState, task: Task, session: PageSession) -> tuple[float, bool]:
    if page.title == "Goal reached":
        return 1.0, True
    return 0.0, page.title == "Dead end"
