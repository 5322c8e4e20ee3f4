"""Building the Docker image the `DockerSandbox` runs.

Two ways, tried in order by `build_sandbox_image(method="auto")`:

1. `dockerfile`: a small Dockerfile on a Python base image, for hosts that can pull from an image registry.
2. `debootstrap`: offline. `debootstrap --variant=minbase` builds a Debian root file system with python3,
   numpy and sympy from the host's configured Debian mirror, and `docker import` turns it into an image.
   This needs root, `debootstrap` and a reachable Debian mirror, but no image registry.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_IMAGE = "agentgym-python-sandbox:latest"
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-numpy", "python3-sympy")
BASE_IMAGE = "python:3.11-slim-bookworm"

_log = logging.getLogger(__name__)

DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN pip install --no-cache-dir numpy sympy
ENV PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8
WORKDIR /tmp
"""

_IMPORT_CHANGES = ["ENV LANG=C.UTF-8", "ENV PYTHONDONTWRITEBYTECODE=1", "WORKDIR /tmp", 'CMD ["python3"]']


class ImageBuildError(RuntimeError):
    """The sandbox image could not be built by any method."""


def docker_client(timeout: int = 120) -> Any:
    """A `docker.DockerClient` from the environment (DOCKER_HOST or the default socket)."""
    import docker

    return docker.from_env(timeout=timeout)


def image_exists(client: Any, name: str) -> bool:
    """Whether the engine already has the image `name`."""
    import docker.errors

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def debian_mirror(sources_dir: str | Path = "/etc/apt") -> str:
    """The first Debian mirror URI configured for apt on this host."""
    root = Path(sources_dir)
    for path in sorted((root / "sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.strip().startswith("URIs:"):
                uris = line.split(":", 1)[1].split()
                if uris:
                    return uris[0]
    lists = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
            if m:
                return m.group(1)
    raise ImageBuildError(f"no Debian mirror configured under {root}")


def _split_name(name: str) -> tuple[str, str]:
    repo, _, tag = name.rpartition(":")
    if not repo or "/" in tag:
        return name, "latest"
    return repo, tag


def build_with_dockerfile(client: Any, name: str) -> None:
    """Build from `DOCKERFILE` (needs an image registry and a Python package index)."""
    data = DOCKERFILE.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=name, rm=True, pull=True)


def build_with_debootstrap(client: Any, name: str, mirror: str | None = None, workdir: str | None = None) -> None:
    """Build offline: debootstrap a minimal Debian with Python, then `docker import` it."""
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root")
    mirror = mirror or debian_mirror()
    tmp = tempfile.mkdtemp(prefix="agentgym-image-", dir=workdir)
    root = os.path.join(tmp, "root")
    tar_path = os.path.join(tmp, "root.tar")
    try:
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}", DEBIAN_SUITE, root, mirror]
        _log.info("running %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ImageBuildError(f"debootstrap failed ({proc.returncode}): {proc.stderr[-2000:] or proc.stdout[-2000:]}")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            path = os.path.join(root, junk)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
                os.makedirs(path, exist_ok=True)
        subprocess.run(["tar", "-C", root, "-cf", tar_path, "."], check=True)
        repo, tag = _split_name(name)
        client.api.import_image_from_file(tar_path, repository=repo, tag=tag, changes=_IMPORT_CHANGES)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not image_exists(client, name):
        raise ImageBuildError(f"docker import did not produce {name}")


def build_sandbox_image(name: str = DEFAULT_IMAGE, force: bool = False, method: str = "auto",
                        client: Any = None) -> str:
    """Build the Python sandbox image unless it already exists; returns the image name.

    Args:
        name: image name (`repo:tag`).
        force: rebuild even if the image exists.
        method: "auto" (Dockerfile, then debootstrap), "dockerfile" or "debootstrap".
        client: a `docker.DockerClient` (default: from the environment).
    """
    if method not in ("auto", "dockerfile", "debootstrap"):
        raise ValueError(f"method must be 'auto', 'dockerfile' or 'debootstrap', got {method!r}")
    client = client or docker_client(timeout=600)
    if not force and image_exists(client, name):
        return name
    errors: list[str] = []
    if method in ("auto", "dockerfile"):
        try:
            build_with_dockerfile(client, name)
            return name
        except Exception as e:
            errors.append(f"dockerfile: {type(e).__name__}: {str(e)[:300]}")
            _log.info("Dockerfile build failed (%s); trying debootstrap", e)
    if method in ("auto", "debootstrap"):
        try:
            build_with_debootstrap(client, name)
            return name
        except Exception as e:
            errors.append(f"debootstrap: {type(e).__name__}: {str(e)[:2000]}")
    raise ImageBuildError("could not build the sandbox image: " + "; ".join(errors))
