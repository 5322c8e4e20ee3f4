"""A stateful, isolated Python interpreter for agents (`agentgym.tools.python`).

    from agentgym.tools.python import LocalSandbox
    with LocalSandbox() as sb:
        sb.execute("x = 41")
        sb.execute("x + 1").value   # '42'

Backends: `LocalSandbox` (a worker process in Linux namespaces where available) and `DockerSandbox`
(one long-lived container per session). `SandboxPool` hands out warm sessions; `python_tool()` is the
tool environments give to agents; `build_sandbox_image()` builds the Docker image.
"""

from agentgym.tools.python.base import PythonSandbox, SandboxError
from agentgym.tools.python.docker_sandbox import DockerSandbox, docker_available, remove_stale_containers
from agentgym.tools.python.image import DEFAULT_IMAGE, ImageBuildError, build_sandbox_image
from agentgym.tools.python.isolation import IsolationReport, probe_isolation
from agentgym.tools.python.limits import SANDBOX_ENV, SandboxLimits
from agentgym.tools.python.local import LocalSandbox
from agentgym.tools.python.pool import SandboxPool, default_pool, make_sandbox
from agentgym.tools.python.result import ExecutionResult
from agentgym.tools.python.tool import SandboxProvider, python_tool

__all__ = [
    "DEFAULT_IMAGE",
    "SANDBOX_ENV",
    "DockerSandbox",
    "ExecutionResult",
    "ImageBuildError",
    "IsolationReport",
    "LocalSandbox",
    "PythonSandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxPool",
    "SandboxProvider",
    "build_sandbox_image",
    "default_pool",
    "docker_available",
    "make_sandbox",
    "probe_isolation",
    "python_tool",
    "remove_stale_containers",
]
