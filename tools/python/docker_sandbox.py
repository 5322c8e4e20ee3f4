"""The Docker backend: one long-lived container per session, workers started in it with `docker exec`.

The container (`sleep infinity` under Docker's init) has no network, memory/CPU/pids limits, a read-only
root file system with a size-limited tmpfs /tmp as the working directory, no capabilities and
`no-new-privileges`. The interpreter runs in it as an unprivileged user; restarting it (after a crash, a
hard timeout or `reset()`) is a new `docker exec`, not a new container, and first kills everything the
previous one left behind.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from agentgym.tools.python.base import WORKER_SOURCE, PythonSandbox, SandboxError
from agentgym.tools.python.channel import DockerStreamDecoder, FrameChannel
from agentgym.tools.python.image import DEFAULT_IMAGE, docker_client
from agentgym.tools.python.limits import SANDBOX_ENV, SandboxLimits

SANDBOX_USER = "65534:65534"
LABEL = "agentgym.sandbox"
_KILL_ALL = "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"


def docker_available() -> tuple[bool, str]:
    """(True, "") when a Docker engine answers, else (False, why)."""
    try:
        client = docker_client(timeout=10)
        client.ping()
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"
    return True, ""


class DockerSandbox(PythonSandbox):
    """A session in its own Docker container.

    Args:
        limits: resource limits (memory, CPU share, pids, tmpfs size ...).
        image: the sandbox image (build it with `build_sandbox_image()`).
        client: a `docker.DockerClient` (default: from the environment).
        python: the interpreter inside the image.
        user: uid:gid the interpreter runs as.
    """

    backend = "docker"
    _blocking_spawn = True

    def __init__(self, limits: SandboxLimits | None = None, image: str = DEFAULT_IMAGE, client: Any = None,
                 python: str = "python3", user: str = SANDBOX_USER) -> None:
        super().__init__(limits)
        self.image = image
        self._client = client
        self.python = python
        self.user = user
        self.container: Any = None
        self._sock: Any = None
        self._decoder: DockerStreamDecoder | None = None
        self._exec_id: str | None = None

    @property
    def isolation(self) -> str:
        return (f"docker: network none, read-only root, tmpfs /tmp, memory {self.limits.memory_mb} MiB, "
                f"pids {self.limits.processes}, cpus {self.limits.cpus:g}, user {self.user}")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def _create_container(self) -> Any:
        import docker.errors
        from docker.types import Ulimit

        lim = self.limits
        memory = f"{lim.memory_mb + 256}m"
        try:
            return self.client.containers.run(
                self.image, ["sleep", "infinity"], detach=True, init=True, name=f"agentgym-sbx-{uuid.uuid4().hex[:12]}",
                network_mode="none", mem_limit=memory, memswap_limit=memory, nano_cpus=int(lim.cpus * 1e9),
                pids_limit=lim.processes, read_only=True,
                tmpfs={"/tmp": f"size={lim.tmp_mb}m,mode=1777", "/dev/shm": "size=64m,mode=1777"},
                cap_drop=["ALL"], security_opt=["no-new-privileges"], environment=dict(SANDBOX_ENV),
                working_dir="/tmp", hostname="sandbox", labels={LABEL: "1"},
                ulimits=[Ulimit(name="core", soft=0, hard=0)],
            )
        except docker.errors.ImageNotFound:
            raise SandboxError(f"sandbox image {self.image!r} not found; build it with "
                               "agentgym.tools.python.image.build_sandbox_image()") from None

    def _spawn(self) -> FrameChannel:
        if self.container is None:
            self.container = self._create_container()
        worker_config = {"workdir": "/tmp", "wipe_workdir": True, "contained": True,
                         "limits": self.limits.worker_limits(processes=False)}
        api = self.client.api
        exec_id = api.exec_create(
            self.container.id, [self.python, "-I", "-c", WORKER_SOURCE, json.dumps(worker_config)],
            stdin=True, stdout=True, stderr=True, user=self.user, workdir="/tmp", environment=dict(SANDBOX_ENV),
        )["Id"]
        sock = api.exec_start(exec_id, socket=True)
        self._exec_id, self._sock = exec_id, sock
        raw = getattr(sock, "_sock", sock)
        self._decoder = DockerStreamDecoder()
        fd = raw.fileno()
        return FrameChannel(fd, fd, decoder=self._decoder)

    def _death_reason(self) -> str:
        parts = []
        try:
            if self._exec_id is not None:
                info = self.client.api.exec_inspect(self._exec_id)
                if not info.get("Running") and info.get("ExitCode") is not None:
                    code = int(info["ExitCode"])
                    parts.append("killed by SIGKILL (memory or CPU-time limit, or killed by its code)"
                                 if code == 137 else f"exit status {code}")
            if self.container is not None:
                self.container.reload()
                if self.container.attrs.get("State", {}).get("OOMKilled"):
                    parts.append("the container ran out of memory")
        except Exception:
            pass
        if self._decoder is not None and self._decoder.stderr:
            tail = self._decoder.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            parts.extend(tail)
        return "; ".join(parts)

    def _kill(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
            raw = getattr(sock, "_sock", None)
            if raw is not None:
                try:
                    raw.close()
                except OSError:
                    pass
        self._exec_id = None
        if self.container is not None:
            try:  # everything running as the sandbox user: the worker and whatever it started
                self.container.exec_run([self.python, "-c", _KILL_ALL], user=self.user)
            except Exception:
                self._discard_container()

    def _discard_container(self) -> None:
        container, self.container = self.container, None
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:
                pass

    def _dispose(self) -> None:
        self._discard_container()


def remove_stale_containers(client: Any = None) -> int:
    """Remove sandbox containers left by processes that died without closing them; returns the count."""
    client = client or docker_client()
    removed = 0
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        try:
            c.remove(force=True)
            removed += 1
        except Exception:
            pass
    return removed


__all__ = ["DockerSandbox", "docker_available", "remove_stale_containers"]
