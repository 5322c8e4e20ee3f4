"""`SandboxEnv`: a `LanguageEnv` whose episodes get a Python sandbox session on first use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.tools.python import PythonSandbox, SandboxLimits, SandboxPool, default_pool, python_tool

from agentgym.env import LanguageEnv
from agentgym.messages import Message, ToolCall
from agentgym.state import EpisodeState
from agentgym.tool import Tool


class SandboxEnv(LanguageEnv):
    """Base of the code environments: owns the `python` tool's sessions.

    A session is taken from a pool the first time an episode runs code (or is graded), so resets and
    steps that never run code cost nothing; it goes back to the pool, reset, when the episode ends.

    Args:
        backend: "local" (default) or "docker".
        pool: a `SandboxPool` to draw from (default: the process-wide pool for the backend and limits).
        exec_timeout: seconds per `python` call.
        sandbox_options: extra constructor options of the sandbox backend (e.g. `image=` for docker).
        kwargs: passed to `LanguageEnv`.
    """

    def __init__(self, tasks: Any, tools: Sequence[Tool], rubric: Any, *, backend: str = "local",
                 pool: SandboxPool | None = None, exec_timeout: float = 10.0,
                 sandbox_options: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if backend not in ("local", "docker"):
            raise ValueError(f"backend must be 'local' or 'docker', got {backend!r}")
        self.backend = backend
        self.exec_timeout = exec_timeout
        self._pool = pool
        self._sandbox_options = dict(sandbox_options or {})
        self._sessions: dict[int, PythonSandbox] = {}
        self._dirty: set[int] = set()
        super().__init__(tasks, [python_tool(), *tools], rubric, **kwargs)

    @property
    def pool(self) -> SandboxPool:
        """The pool sessions come from."""
        if self._pool is None:
            options = {"limits": SandboxLimits(timeout=self.exec_timeout), **self._sandbox_options}
            self._pool = default_pool(self.backend, **options)
        return self._pool

    async def sandbox_for(self, state: EpisodeState) -> PythonSandbox:
        """The episode's session for the agent's code (taken from the pool on first use)."""
        key = id(state)
        sandbox = self._sessions.get(key)
        if sandbox is None:
            sandbox = await self.pool.aacquire()
            self._sessions[key] = sandbox
        self._dirty.add(key)
        return sandbox

    async def clean_sandbox(self, state: EpisodeState) -> PythonSandbox:
        """A session with no state from the agent's code (for grading): fresh, or the episode's one reset."""
        key = id(state)
        sandbox = self._sessions.get(key)
        if sandbox is None:
            sandbox = await self.pool.aacquire()
            self._sessions[key] = sandbox
        elif key in self._dirty:
            await sandbox.areset()
        self._dirty.discard(key)
        return sandbox

    async def teardown_episode(self, state: EpisodeState) -> None:
        key = id(state)
        sandbox = self._sessions.pop(key, None)
        dirty = key in self._dirty
        self._dirty.discard(key)
        if sandbox is not None:
            await self.pool.arelease(sandbox, reset=dirty)

    def example_text(self, code: str, final_tool: str, final_args: str) -> str:
        """One worked exchange written in the env's own protocol (empty for native tool calling)."""
        if self.protocol.native:
            return ""
        run = Message("assistant", None, [ToolCall("call_0", "python", code)])
        end = Message("assistant", None, [ToolCall("call_1", final_tool, final_args)])
        return (f"Example. You write:\n{self.protocol.encode_calls(run)}\nand get its output back; "
                f"when you are sure, you write:\n{self.protocol.encode_calls(end)}")
