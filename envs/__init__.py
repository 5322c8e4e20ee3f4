"""Environment families, installed as `agentgym.envs.*`.

`register_builtin_envs()` registers every built-in environment id (by entry-point string, so nothing
heavy is imported until an env is made). It runs on `import agentgym`.
"""

from __future__ import annotations


def register_builtin_envs() -> None:
    from agentgym.registry import register

    register("Arithmetic-v0", "agentgym.envs.arithmetic:ArithmeticEnv")
