"""The local backend: one worker process per session, isolated with Linux namespaces where available."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from agentgym.tools.python.base import WORKER_SOURCE, PythonSandbox, SandboxError
from agentgym.tools.python.channel import FrameChannel
from agentgym.tools.python.isolation import IsolationReport, launcher_command, probe_isolation
from agentgym.tools.python.layout import interpreter_layout
from agentgym.tools.python.limits import SANDBOX_ENV, SandboxLimits

_UID_BASE = 100_000 + (os.getpid() % 10_000) * 256
_uid_counter = itertools.count()


class LocalSandbox(PythonSandbox):
    """A session in a local worker process.

    With namespaces (root on Linux): no network, its own pid namespace (it sees only its own processes
    and everything it starts dies with it), a read-only view of the system and Python directories only
    (no home directories, no project source, no /etc/shadow), a private tmpfs /tmp as its working
    directory, its own unprivileged uid, and rlimits on memory, CPU seconds, processes, file size and open
    files. Without namespaces it still applies the rlimits, a scrubbed environment and a private temporary
    working directory, and logs once which protections are missing.

    Args:
        limits: resource limits.
        isolate: True requires namespaces, False skips them, None (default) uses them where available.
        python: interpreter to run (default: this one).
    """

    backend = "local"

    def __init__(self, limits: SandboxLimits | None = None, isolate: bool | None = None,
                 python: str | None = None) -> None:
        super().__init__(limits)
        report = probe_isolation() if isolate is not False else IsolationReport(False, "disabled")
        if isolate and not report.namespaces:
            raise RuntimeError(f"namespace isolation is not available here: {report.reason}")
        self.report = report
        self.namespaces = report.namespaces and isolate is not False
        self.python = python or sys.executable
        self.uid = _UID_BASE + next(_uid_counter) % 256 if self.namespaces else os.getuid()
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None

    @property
    def isolation(self) -> str:
        return "local: " + (self.report.describe() if self.namespaces else
                            "rlimits only" + (f" ({self.report.reason})" if self.report.reason else ""))

    def _spawn(self) -> FrameChannel:
        env = dict(SANDBOX_ENV)
        try:
            layout = interpreter_layout(self.python)
        except RuntimeError as e:
            raise SandboxError(str(e)) from None
        if self.namespaces:
            worker_config = {"workdir": "/tmp", "contained": True, "site_dirs": list(layout.site_dirs),
                             "limits": self.limits.worker_limits(processes=True)}
            config = {"isolate": True, "uid": self.uid, "ro_paths": list(layout.read_only_dirs),
                      "tmp_mb": self.limits.tmp_mb}
        else:
            self._workdir = tempfile.mkdtemp(prefix="agentgym-sandbox-")
            env.update(HOME=self._workdir, TMPDIR=self._workdir,
                       PATH=os.path.dirname(self.python) + os.pathsep + env["PATH"])
            worker_config = {"workdir": self._workdir, "site_dirs": list(layout.site_dirs),
                             "limits": self.limits.worker_limits(processes=False)}
            config = {"isolate": False}
        config.update(python=self.python, worker_source=WORKER_SOURCE, worker_config=worker_config)
        self._proc = subprocess.Popen(
            launcher_command(config), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=self._workdir or "/", start_new_session=True, close_fds=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        return FrameChannel(self._proc.stdout.fileno(), self._proc.stdin.fileno())

    def _death_reason(self) -> str:
        proc = self._proc
        if proc is None:
            return ""
        try:
            code = proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return ""
        err = b""
        if proc.stderr is not None:
            try:
                os.set_blocking(proc.stderr.fileno(), False)
                err = proc.stderr.read(2000) or b""
            except (OSError, ValueError):
                pass
        sig = -code if code < 0 else code - 128 if code > 128 else 0
        if sig > 0:
            name = signal.Signals(sig).name if sig in signal.Signals.__members__.values() else str(sig)
            hint = {"SIGKILL": ": killed, e.g. for memory or the CPU-time limit",
                    "SIGXCPU": ": CPU-time limit reached", "SIGSEGV": ": segmentation fault"}.get(name, "")
            text = f"killed by {name}{hint}"
        else:
            text = f"exit status {code}"
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        return text + (f"; {tail[0]}" if tail else "")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
