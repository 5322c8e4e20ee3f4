"""Where an interpreter and its packages live, so that a sandbox can show it exactly those directories.

A sandboxed interpreter needs its own installation (prefix, base prefix, the real location of its
executable) and the directories its packages come from (site-packages of a venv, conda env or system
install, and the user site of `pip install --user`). These can be anywhere: a venv under /tmp (as CI
systems make), a home directory (pyenv, `~/.cache/...`), conda under /opt. The layout is asked of the
interpreter itself, once per interpreter and environment, so it is right for any `python` a sandbox runs.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass

_PROBE = r"""
import json, os, site, sys
user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
print(json.dumps({
    "prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                 os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))],
    "path": [p for p in sys.path if p],
    "user_site": user_site,
}))
"""

_SITE_DIR_NAMES = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class InterpreterLayout:
    """The directories an interpreter needs, as real paths.

    Attributes:
        python: the interpreter.
        read_only_dirs: what a sandbox must bind read-only: installation prefixes and package directories
            (minimal: no directory inside another one).
        site_dirs: package directories that `python -I` would not put on `sys.path` by itself (the user
            site); the sandbox worker adds them with `site.addsitedir` so their `.pth` files work too.
    """

    python: str
    read_only_dirs: tuple[str, ...]
    site_dirs: tuple[str, ...]


def _minimal(paths: list[str]) -> tuple[str, ...]:
    """Existing real directories, dropping any that lies inside another one of the list."""
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})
    kept: list[str] = []
    for p in real:
        if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(p)
    return tuple(kept)


@functools.cache
def _probe(python: str, env_key: tuple[tuple[str, str], ...]) -> InterpreterLayout:
    try:
        proc = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=30,
                              env=dict(env_key), cwd="/")
    except (OSError, subprocess.SubprocessError) as e:
        raise RuntimeError(f"cannot run the sandbox interpreter {python!r}: {type(e).__name__}: {e}") from None
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise RuntimeError(f"cannot run the sandbox interpreter {python!r}: {tail[0]}")
    data = json.loads(proc.stdout)
    prefixes = [p for p in data["prefixes"] if p]
    in_prefix = lambda p: any(  # noqa: E731
        os.path.realpath(p).startswith(os.path.realpath(x).rstrip("/") + "/") for x in prefixes)
    # package directories outside every prefix (a .pth entry, the user site); never arbitrary path entries
    # such as the current directory or a project checkout
    packages = [p for p in data["path"] if os.path.basename(p.rstrip("/")) in _SITE_DIR_NAMES and not in_prefix(p)]
    user_site = data.get("user_site")
    site_dirs = (os.path.realpath(user_site),) if user_site and os.path.isdir(user_site) else ()
    return InterpreterLayout(python, _minimal(prefixes + packages + list(site_dirs)), site_dirs)


# the variables that move an interpreter's packages around
_LAYOUT_VARS = ("PATH", "HOME", "PYTHONUSERBASE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX")


def interpreter_layout(python: str) -> InterpreterLayout:
    """The layout of `python` under the current environment (probed once per interpreter and environment)."""
    env_key = tuple((k, os.environ[k]) for k in _LAYOUT_VARS if k in os.environ)
    return _probe(python, env_key)
