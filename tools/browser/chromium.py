"""Finding a Chromium executable and the flags it is launched with.

The web envs drive Debian's `chromium` package through Playwright (Playwright's own browser download is not
reachable offline). `find_chromium()` looks, in order, at the `AGENTGYM_CHROMIUM` and `CHROMIUM_PATH`
environment variables, `/usr/bin/chromium`, `chromium` / `chromium-browser` / `google-chrome` on `PATH`, and
last at a browser Playwright downloaded itself (`~/.cache/ms-playwright`).
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

ENV_VARS = ("AGENTGYM_CHROMIUM", "CHROMIUM_PATH")

# headless is passed to Playwright's `launch(headless=True)`; these go in `args`
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)

_HOW = ("no Chromium found: install one (`apt-get install -y chromium` on Debian/Ubuntu) or point "
        "AGENTGYM_CHROMIUM at a Chromium/Chrome executable")


class ChromiumNotFound(RuntimeError):
    """No Chromium executable could be found; the message says how to get one."""


def _executable(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def _playwright_bundled() -> str | None:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache" / "ms-playwright")
    for pattern in ("chromium-*/chrome-linux/chrome", "chromium_headless_shell-*/chrome-linux/headless_shell"):
        found = sorted(glob.glob(os.path.join(root, pattern)), reverse=True)
        for f in found:
            if _executable(f):
                return f
    return None


def find_chromium() -> str:
    """The path of a Chromium executable; raises `ChromiumNotFound` (one line saying how to get one)."""
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value:
            path = shutil.which(value) or value
            if not _executable(path):
                raise ChromiumNotFound(f"{var}={value!r} is not an executable file; {_HOW}")
            return path
    if _executable("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    bundled = _playwright_bundled()
    if bundled:
        return bundled
    raise ChromiumNotFound(_HOW)


def chromium_available() -> bool:
    """Whether `find_chromium()` would find one (for skipping browser tests)."""
    try:
        find_chromium()
    except ChromiumNotFound:
        return False
    return True


def playwright_browsers_dir(executable: str | None = None) -> str:
    """A folder laid out as Playwright's browser cache whose Chromium is `executable` (default
    `find_chromium()`): point `PLAYWRIGHT_BROWSERS_PATH` at it so that code which calls
    `playwright.chromium.launch()` without an `executable_path` (BrowserGym's chat window) finds the system
    Chromium. The revision folder is the one the installed Playwright expects (its `browsers.json`)."""
    import json
    import tempfile

    import playwright

    exe = executable or find_chromium()
    spec = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    revision = next(b["revision"] for b in json.loads(spec.read_text())["browsers"] if b["name"] == "chromium")
    root = Path(tempfile.gettempdir()) / f"agentgym-playwright-browsers-{os.getuid()}"
    link = root / f"chromium-{revision}" / "chrome-linux" / "chrome"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and os.readlink(link) == exe):
        tmp = link.with_name(f"chrome.{os.getpid()}.tmp")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(exe)
        tmp.replace(link)
    # Playwright checks that an installation completed
    (link.parent.parent / "INSTALLATION_COMPLETE").touch()
    return str(root)
