"""Which isolation the local backend can use on this host, probed once per process."""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from agentgym.tools.python.layout import interpreter_layout

LAUNCHER = str(Path(__file__).with_name("launcher.py"))

MISSING_WITHOUT_NAMESPACES = (
    "no network isolation (code can open sockets)",
    "host files stay visible (only file permissions protect them)",
    "no private process namespace (code can see host processes in /proc)",
    "no per-session user id (the process-count limit is not applied)",
)

_log = logging.getLogger("agentgym.tools.python")


@dataclass(frozen=True)
class IsolationReport:
    """What the local backend can do here.

    Attributes:
        namespaces: mount, pid, network, IPC and UTS namespaces plus a private root and uid work.
        reason: why they do not, when they do not.
        missing: the protections absent without them.
    """

    namespaces: bool
    reason: str = ""
    missing: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.namespaces:
            return "namespaces (no network, own pid namespace, private /tmp, read-only system dirs) + rlimits"
        return "rlimits only: " + "; ".join(self.missing)


def launcher_command(config: dict[str, object]) -> list[str]:
    """argv that runs the launcher with `config`."""
    return [sys.executable, "-I", "-S", LAUNCHER, json.dumps(config)]


@functools.cache
def probe_isolation() -> IsolationReport:
    """Try the namespace launcher once (about 20 ms); warn once, clearly, if it cannot be used."""
    if os.environ.get("AGENTGYM_SANDBOX_NO_NAMESPACES"):
        report = IsolationReport(False, "disabled by AGENTGYM_SANDBOX_NO_NAMESPACES", MISSING_WITHOUT_NAMESPACES)
    elif not sys.platform.startswith("linux"):
        report = IsolationReport(False, f"not Linux ({sys.platform})", MISSING_WITHOUT_NAMESPACES)
    elif os.geteuid() != 0:
        report = IsolationReport(False, "not running as root", MISSING_WITHOUT_NAMESPACES)
    else:
        # the probe binds this interpreter's own directories, so a layout that cannot be shown to the sandbox
        # (wherever it lives) falls back here, with the reason, instead of failing every session later
        try:
            ro_paths = list(interpreter_layout(sys.executable).read_only_dirs)
        except RuntimeError:
            ro_paths = []
        config = {"isolate": True, "probe": True, "uid": 65534, "tmp_mb": 1, "ro_paths": ro_paths}
        try:
            proc = subprocess.run(launcher_command(config), capture_output=True, text=True, timeout=20)
            ok, why = proc.returncode == 0, proc.stderr.strip()[-500:] or f"exit status {proc.returncode}"
        except (OSError, subprocess.SubprocessError) as e:
            ok, why = False, f"{type(e).__name__}: {e}"
        report = IsolationReport(True) if ok else IsolationReport(False, why, MISSING_WITHOUT_NAMESPACES)
    if not report.namespaces:
        _log.warning("agentgym: the local Python sandbox cannot use Linux namespaces (%s); it runs with "
                     "resource limits and a scrubbed environment only: %s. Use the docker backend for "
                     "untrusted code.", report.reason, "; ".join(report.missing))
    return report
