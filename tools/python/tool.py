"""The `python` tool: runs code in the episode's sandbox session."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from agentgym.tools.python.base import PythonSandbox

from agentgym.state import EpisodeState
from agentgym.tool import Injected, Tool


class SandboxProvider(Protocol):
    """What the `python` tool needs from its environment: the episode's session."""

    async def sandbox_for(self, state: EpisodeState) -> PythonSandbox: ...


def python_tool(name: str = "python", timeout: float | None = None) -> Tool:
    """The `python(code)` tool; the env passed as `env` must implement `SandboxProvider`.

    Args:
        name: the tool's name (and tag, with the tags protocol).
        timeout: seconds per call (default: the sandbox's limit).
    """

    async def python(code: str, env: Annotated[Any, Injected], state: Annotated[EpisodeState, Injected]) -> str:
        """Run Python code in a persistent sandboxed session, like a notebook.

        Variables, imports and files are kept between calls. Print what you want to see; the value of a
        final expression is shown too.

        Args:
            code: the Python code to run.
        """
        sandbox = await env.sandbox_for(state)
        result = await sandbox.aexecute(code, timeout)
        return result.to_text()

    # the sandbox enforces its own time limit and restarts a stuck worker; an outer timeout would orphan it
    return Tool.from_function(python, name=name, timeout=None, concurrent=False)
