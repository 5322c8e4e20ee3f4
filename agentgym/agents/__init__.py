"""Agents: API models (`openai`, `litellm`), local `transformers` models, and scripted agents."""

from agentgym.agents.base import Agent, AgentError, AgentOutput
from agentgym.agents.scripted import FunctionAgent, ScriptedAgent
from agentgym.agents.spec import make_agent

__all__ = ["Agent", "AgentError", "AgentOutput", "FunctionAgent", "ScriptedAgent", "make_agent"]
