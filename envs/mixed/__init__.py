"""Environments that need more than one kind of tool."""

from agentgym.envs.mixed.math_search import MathSearchEnv

__all__ = ["MathSearchEnv"]
