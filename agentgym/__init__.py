"""agentgym: Gymnasium environments, tools, agents and multi-turn RL trainers for LLM agents."""

from __future__ import annotations

from agentgym.env import LanguageEnv
from agentgym.messages import Message, ToolCall
from agentgym.registry import list_envs, make, make_vec, register
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task, TaskDataset
from agentgym.tool import Injected, Tool, tool

__version__ = "0.1.0"

__all__ = [
    "EpisodeState",
    "GeneratedTaskDataset",
    "Injected",
    "LanguageEnv",
    "Message",
    "RewardFunc",
    "Rubric",
    "Task",
    "TaskDataset",
    "Tool",
    "ToolCall",
    "__version__",
    "list_envs",
    "make",
    "make_vec",
    "register",
    "tool",
]


def _register_builtins() -> None:
    from agentgym.envs import register_builtin_envs

    register_builtin_envs()


_register_builtins()
