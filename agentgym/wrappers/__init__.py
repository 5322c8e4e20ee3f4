"""Env wrappers that change how an agent talks to a tool env: TAPO's tag protocol and turn budget,
and IterResearch's Markovian workspace (one rebuilt context per round)."""

from agentgym.wrappers.base import LanguageEnvWrapper, action_text
from agentgym.wrappers.tapo import TAPOTurn, TAPOWrapper, make_tapo_env
from agentgym.wrappers.workspace import LastAction, MarkovianWorkspace, make_workspace_env

__all__ = [
    "LanguageEnvWrapper",
    "LastAction",
    "MarkovianWorkspace",
    "TAPOTurn",
    "TAPOWrapper",
    "action_text",
    "make_tapo_env",
    "make_workspace_env",
]
