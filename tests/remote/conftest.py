"""Real `agentgym serve-env` processes on loopback for the remote env tests (stopped by PID at teardown)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EnvServer:
    """One `agentgym serve-env` subprocess."""

    args: list[str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"remote:{self.base}/Arithmetic-v0"

    def start(self) -> EnvServer:
        log_path = ROOT / ".pytest_cache" / f"serve-env-{self.port}.log"
        log_path.parent.mkdir(exist_ok=True)
        with open(log_path, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agentgym.cli", "serve-env", *self.args, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        return self

    def wait_ready(self, timeout: float = 90.0) -> EnvServer:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve-env exited with {self.proc.returncode}; see .pytest_cache/serve-env-"
                                   f"{self.port}.log")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"serve-env did not come up in {timeout:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # this fixture's own child, by its PID
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> EnvServer:
        self.stop()
        return self.start().wait_ready()


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, EnvServer]]:
    """Three servers started at once: "main" (defaults), "small" (2 episodes at most, never evicts),
    "idle" (evicts after 1 s idle)."""
    started = {
        "main": EnvServer(["Arithmetic-v0", "--env-arg", "difficulty=1"]),
        "small": EnvServer(["Arithmetic-v0", "--max-episodes", "2", "--idle-timeout", "0"]),
        "idle": EnvServer(["Arithmetic-v0", "--idle-timeout", "1"]),
    }
    try:
        for s in started.values():
            s.start()
        for s in started.values():
            s.wait_ready()
        yield started
    finally:
        for s in started.values():
            s.stop()


@pytest.fixture
def server(servers: dict[str, EnvServer]) -> EnvServer:
    return servers["main"]


@pytest.fixture
def restartable() -> Iterator[EnvServer]:
    """A server of its own, for tests that stop and restart it."""
    s = EnvServer(["Arithmetic-v0"]).start().wait_ready()
    try:
        yield s
    finally:
        s.stop()
