"""Agents: API models (`openai`, `litellm`), local `transformers` models, and scripted agents.

Every agent is a policy the episode loop (`agentgym.episode`) can drive: message-level (`act` on the whole
conversation) or token-level (`TokenAgent`: an exact token context per episode, recorded turn by turn).
"""

from agentgym.agents.base import (
    Agent,
    AgentError,
    AgentOutput,
    ContextWindowExceeded,
    EpisodeSession,
    MessageSession,
)
from agentgym.agents.ensemble import ActionEnsembleAgent
from agentgym.agents.scripted import FunctionAgent, ScriptedAgent
from agentgym.agents.spec import make_agent
from agentgym.agents.token_agent import TokenAgent, TokenSession

__all__ = ["ActionEnsembleAgent", "Agent", "AgentError", "AgentOutput", "ContextWindowExceeded", "EpisodeSession",
           "FunctionAgent", "MessageSession", "ScriptedAgent", "TokenAgent", "TokenSession", "make_agent"]
