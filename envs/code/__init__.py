"""Code-interpreter environments: HumanEval, math word problems with Python, generated algorithmic tasks."""

from agentgym.envs.code.algorithmic import PythonAlgoEnv
from agentgym.envs.code.answers import answers_match
from agentgym.envs.code.humaneval import HumanEvalEnv
from agentgym.envs.code.math_oracle import MathPythonOracle, math_python_oracle, solution_program
from agentgym.envs.code.math_python import MathPythonEnv
from agentgym.envs.code.sandbox_env import SandboxEnv

__all__ = [
    "HumanEvalEnv",
    "MathPythonEnv",
    "MathPythonOracle",
    "PythonAlgoEnv",
    "SandboxEnv",
    "answers_match",
    "math_python_oracle",
    "solution_program",
]
