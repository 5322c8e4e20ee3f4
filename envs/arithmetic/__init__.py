"""Built-in arithmetic word problems with a `calculator` and an `answer` tool."""

from agentgym.envs.arithmetic.env import ArithmeticEnv, generate_problem, parse_number
from agentgym.envs.arithmetic.oracle import ArithmeticOracle, problem_expression

__all__ = ["ArithmeticEnv", "ArithmeticOracle", "generate_problem", "parse_number", "problem_expression"]
