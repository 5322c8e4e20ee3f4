"""Browser tools for the web envs: the backend contract (`base`), Chromium discovery (`chromium`) and the
Playwright backend (`playwright_backend`, imported on demand so that Playwright stays optional)."""

from __future__ import annotations

from agentgym.tools.browser.base import (
    ACTION_NAMES,
    AGID_ATTR,
    INTERACTIVE_SELECTOR,
    ActionError,
    BackendCrashed,
    PageSession,
    PageState,
    WebAction,
    WebBackend,
)
from agentgym.tools.browser.chromium import ChromiumNotFound, chromium_available, find_chromium

__all__ = [
    "ACTION_NAMES",
    "AGID_ATTR",
    "INTERACTIVE_SELECTOR",
    "ActionError",
    "BackendCrashed",
    "ChromiumNotFound",
    "PageSession",
    "PageState",
    "WebAction",
    "WebBackend",
    "chromium_available",
    "find_chromium",
]
