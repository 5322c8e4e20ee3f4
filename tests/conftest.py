"""Shared fixtures: free ports, the real SmolLM2 model, a running model server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def smollm2_agent():
    """HFAgent on the real SmolLM2-135M-Instruct (loaded once per session)."""
    from agentgym.agents.hf_agent import HFAgent

    return HFAgent("smollm2", temperature=0.7, max_tokens=48, seed=0)


@pytest.fixture(scope="session")
def model_server() -> Iterator[str]:
    """`agentgym serve-model hf:smollm2` on a free port; yields the base URL."""
    port = free_port()
    log_path = ROOT / ".pytest_cache" / f"serve-{port}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the server process
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentgym.cli", "serve-model", "hf:smollm2", "--port", str(port), "--name", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"model server exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError("model server did not come up in 180 s")
        yield f"{base}/v1"
    finally:
        log.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


_WEB_MODULES = ("playwright", "miniwob", "browsergym")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`browser` tests need the `web` extra and a Chromium, which `bash scripts/install.sh` installs: their
    absence is a failure that says so, never a skip."""
    if item.get_closest_marker("browser") is None:
        return
    import importlib.util

    from agentgym.tools.browser.chromium import chromium_available

    missing = [m for m in _WEB_MODULES if importlib.util.find_spec(m) is None]
    if not chromium_available():
        missing.append("Chromium")
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)} (bash scripts/install.sh installs them)")
