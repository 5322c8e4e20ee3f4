"""The contract between web environments and the backends that render and act on pages.

A backend serves one episode at a time per `PageSession`: a real browser (`tools/browser/playwright_backend`:
Playwright's async API on Chromium) or the browserless HTTP backend (`envs/web/http_backend`: fetches the
served HTML and follows links and forms itself). Both hand the env a `PageState` whose `html` carries a
`data-agid` attribute on every element an action may target, so `tools/browser/axtext.py` renders the same
accessibility text from either, and an action names its target by that id (BrowserGym's `bid` convention).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

AGID_ATTR = "data-agid"

# Set only by a backend that runs the page's JavaScript (Playwright): `CLICKABLE_ATTR` on elements that got a
# click/mouse/pointer handler from a script (jQuery, d3: MiniWoB's links are such <span>s), so that they match
# `INTERACTIVE_SELECTOR` and get an id; `HIDDEN_ATTR` on the outermost elements the browser does not render
# (display:none or visibility:hidden from any stylesheet, not only inline styles), so a text view can leave
# out their whole subtree.
CLICKABLE_ATTR = "data-agclickable"
HIDDEN_ATTR = "data-aghidden"

# elements that get a `data-agid` id: every match, numbered "1", "2", ... in document order; an element that
# already has an id keeps it (new ones continue after the largest number present). `axtext.assign_ids` (HTTP
# backend) and the Playwright backend's page script both use exactly this selector, so the two number a page
# alike. Only plain selectors (tag, [attr], [attr=value]) so that any CSS engine matches them the same way.
INTERACTIVE_SELECTOR = (
    "a[href], button, input, select, textarea, summary, [role=button], [role=link], [role=checkbox], "
    "[role=radio], [role=tab], [role=menuitem], [role=option], [role=textbox], [role=combobox], "
    "[role=searchbox], [role=switch], [onclick], [tabindex], [contenteditable], label, "
    f"[{CLICKABLE_ATTR}]"
)

# actions a WebEnv exposes as tools; a backend implements each one it supports
ACTION_NAMES = ("click", "fill", "select_option", "press", "hover", "scroll", "goto", "go_back", "go_forward",
                "tab_focus", "new_tab", "tab_close")


class ActionError(Exception):
    """An action that cannot be done (no element with that id, not fillable, navigation failed): its message
    goes back to the agent as an observation; the page is unchanged."""


class BackendCrashed(Exception):
    """The backend lost its browser (or server) mid-episode: the episode ends with this error, the next
    reset gets a fresh one."""


@dataclass
class WebAction:
    """One action: a name from `ACTION_NAMES` and its arguments, e.g. `WebAction("click", {"bid": "12"})`,
    `WebAction("fill", {"bid": "7", "value": "boots"})`, `WebAction("goto", {"url": "..."})`."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class PageState:
    """What a backend shows of the active tab after an action.

    Attributes:
        url, title: of the active tab.
        html: the DOM serialized after scripts ran (browser) or as served (HTTP), with `data-agid` ids on
            interactive elements, numbered in document order.
        tabs: the URLs of the open tabs; `active_tab` indexes them.
        focused: the `data-agid` of the focused element, if any.
        screenshot: PNG bytes when asked for (browser backend only).
        extra: backend-specific facts (e.g. a MiniWoB task's reward and done flag read from its JavaScript).
        last_action_error: the last action's `ActionError` message, shown in the observation's header.
    """

    url: str
    title: str
    html: str
    tabs: list[str] = field(default_factory=list)
    active_tab: int = 0
    focused: str | None = None
    screenshot: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the message of the `ActionError` the last action raised (set by the env before rendering; `axtext`
    # shows it in the header), None when it succeeded
    last_action_error: str | None = None


class PageSession(abc.ABC):
    """One episode's pages (a browser context, or an HTTP client with its cookies and history)."""

    @abc.abstractmethod
    async def goto(self, url: str) -> PageState:
        """Open `url` in the active tab."""

    @abc.abstractmethod
    async def act(self, action: WebAction) -> PageState:
        """Do `action`; raise `ActionError` when it cannot be done (nothing changes then)."""

    @abc.abstractmethod
    async def state(self, screenshot: bool = False) -> PageState:
        """The active tab as it is now."""

    async def evaluate(self, script: str) -> Any:
        """Run JavaScript in the active tab (browser backends; others raise `ActionError`)."""
        raise ActionError("this backend runs no JavaScript")

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the session (close the context; recycle it in a pool)."""


class WebBackend(abc.ABC):
    """Makes `PageSession`s; owns the shared resource (a browser process, a server)."""

    @abc.abstractmethod
    async def new_session(self) -> PageSession:
        """A fresh session for one episode (restarts the browser if it died)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop what this backend started."""
