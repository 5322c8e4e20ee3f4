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
    register("MathSearch-v0", "agentgym.envs.mixed:MathSearchEnv")
    register("PolicyDoc-v0", "agentgym.envs.policy:make_policydoc_env")
    # TAPO's tag protocol and IterResearch's Markovian workspace over the tool envs (agentgym.wrappers)
    register("TAPO-MathPython-v0", "agentgym.wrappers:make_tapo_env", kwargs={"base_env": "MathPython-v0"})
    register("TAPO-MultiHopQA-v0", "agentgym.wrappers:make_tapo_env",
             kwargs={"base_env": "MultiHopQA-v0", "open_tool": False})
    register("TAPO-MathSearch-v0", "agentgym.wrappers:make_tapo_env", kwargs={"base_env": "MathSearch-v0"})
    register("EAPO-MultiHopQA-v0", "agentgym.wrappers:make_workspace_env", kwargs={"base_env": "MultiHopQA-v0"})
