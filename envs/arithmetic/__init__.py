"""Built-in arithmetic word problems with a `calculator` and an `answer` tool."""

from agentgym.envs.arithmetic.env import ArithmeticEnv, generate_problem, parse_number

__all__ = ["ArithmeticEnv", "generate_problem", "parse_number"]
