"""Environment families, installed as `agentgym.envs.*`.

`register_builtin_envs()` registers every built-in environment id (by entry-point string, so nothing
heavy is imported until an env is made). It runs on `import agentgym`.
"""

from __future__ import annotations


def register_builtin_envs() -> None:
    from agentgym.registry import register

    register("Arithmetic-v0", "agentgym.envs.arithmetic:ArithmeticEnv")
    register("HumanEval-v0", "agentgym.envs.code:HumanEvalEnv")
    register("MathPython-v0", "agentgym.envs.code:MathPythonEnv")
    register("PythonAlgo-v0", "agentgym.envs.code:PythonAlgoEnv")
    register("MultiHopQA-v0", "agentgym.envs.search:MultiHopQAEnv")
    register("SearchQA-v0", "agentgym.envs.search:SearchQAEnv")
