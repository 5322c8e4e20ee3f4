"""Sandbox sessions of each backend for the tests (the docker one skips only when no engine answers)."""

from __future__ import annotations

import os

import pytest
from agentgym.tools.python import DockerSandbox, LocalSandbox, SandboxLimits, docker_available

TEST_LIMITS = SandboxLimits(timeout=5.0, grace=1.0, memory_mb=512, processes=48, file_size_mb=16, tmp_mb=64,
                            max_output_chars=4000)

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


def require_docker() -> None:
    """Skip when no Docker engine answers; build the sandbox image when it is missing."""
    ok, why = docker_available()
    if not ok:
        if os.environ.get("CI"):  # CI installs and starts Docker (scripts/setup_docker.sh): absence is a failure there
            pytest.fail(f"no Docker engine reachable in CI ({why})")
        pytest.skip(f"no Docker engine reachable ({why}); run scripts/setup_docker.sh")
    from agentgym.tools.python import build_sandbox_image

    build_sandbox_image()


def make_session(backend: str, limits: SandboxLimits = TEST_LIMITS):
    """A started session of `backend`."""
    if backend == "docker":
        require_docker()
        return DockerSandbox(limits).start()
    return LocalSandbox(limits).start()
