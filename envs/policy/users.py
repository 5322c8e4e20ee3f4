"""Simulated users: who the agent talks to through `respond`.

A `SimulatedUser` opens the conversation (`start`) and answers each message the agent sends (`reply`); it
says `###STOP###` when its goal is met. `LLMUser` lets any agentgym agent (an `openai:`, `litellm:` or `hf:`
spec, or an `Agent` object) play the user from the task's instruction, under τ-bench's user rules. The
user's tokens and cost are counted in `usage`, apart from the policy's.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from agentgym.envs.policy.types import PolicyTask

from agentgym.agents.base import ModelUsage

if TYPE_CHECKING:
    from agentgym.agents.base import Agent

__all__ = ["STOP_TOKEN", "LLMUser", "SimulatedUser", "UserUsage", "user_system_prompt"]

STOP_TOKEN = "###STOP###"
GREETING = "Hi! How can I help you today?"


#: tokens and cost the simulated user spent in one episode (never added to the policy's)
UserUsage = ModelUsage


class SimulatedUser(ABC):
    """The other side of a policy conversation.

    The env calls `fork()` once per episode (so concurrent episodes never share a conversation), then
    `start(task)` for the opening message and `reply(text)` for every message the agent sends. A reply that
    contains `###STOP###` ends the episode.
    """

    def __init__(self) -> None:
        self.usage = UserUsage()

    @abstractmethod
    async def start(self, task: PolicyTask) -> str:
        """Begin a conversation about `task`; returns the user's opening message."""

    @abstractmethod
    async def reply(self, agent_text: str) -> str:
        """The user's answer to one message from the agent."""

    def fork(self) -> SimulatedUser:
        """A fresh user for one episode that shares no mutable state with this one (a deep copy; subclasses
        that hold a model override it to share the model)."""
        user = copy.deepcopy(self)
        user.usage = UserUsage()
        return user

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the user holds (a model it owns)."""


def user_system_prompt(instruction: str) -> str:
    """The user model's instructions, following τ-bench's user rules: play the person the instruction
    describes, a line at a time, revealing only what the current step needs, inventing nothing, and saying
    `###STOP###` once the goal is met."""
    return (
        "You are a customer talking to a customer-service agent. Play the person described below.\n\n"
        f"Instruction: {instruction}\n\n"
        "Rules:\n"
        "- Write one line at a time: a single short message, as the customer would type it.\n"
        "- Do not reveal the whole instruction at once; give only the information the current step needs.\n"
        "- Never invent information the instruction does not give. If the agent asks for something you were "
        "not told (an id, a number, a date), say you do not know or do not have it.\n"
        "- Do not copy the instruction word for word; say things in your own words.\n"
        f"- When the goal of the instruction is met, reply with {STOP_TOKEN} alone, with nothing else, to end "
        "the conversation.\n"
        "- Keep the conversation natural and keep to the personality the instruction gives."
    )


class LLMUser(SimulatedUser):
    """A model plays the user: an agent spec string (`openai:...`, `litellm:...`, `hf:...`) or an `Agent`.

    The model sees the user's rules and the task's instruction as its system prompt, the agent's messages as
    `user` turns and its own lines as `assistant` turns (τ-bench's layout), starting from the greeting
    "Hi! How can I help you today?".

    Args:
        agent: the spec or agent object that plays the user.
        greeting: the agent-side line the user model answers first.
        agent_options: options for `make_agent` when `agent` is a spec (temperature, max_tokens, ...).
    """

    def __init__(self, agent: str | Agent, *, greeting: str = GREETING, **agent_options: Any) -> None:
        super().__init__()
        self._owns_agent = isinstance(agent, str)
        if isinstance(agent, str):
            from agentgym.agents.spec import make_agent

            agent = make_agent(agent, **agent_options)
        self.agent = agent
        self.greeting = greeting
        self.messages: list[dict[str, Any]] = []

    def fork(self) -> LLMUser:
        """A new conversation over the same model."""
        return LLMUser(self.agent, greeting=self.greeting)

    async def start(self, task: PolicyTask) -> str:
        self.messages = [
            {"role": "system", "content": user_system_prompt(task.instruction)},
            {"role": "user", "content": self.greeting},
        ]
        return await self._generate()

    async def reply(self, agent_text: str) -> str:
        self.messages.append({"role": "user", "content": agent_text})
        return await self._generate()

    async def _generate(self) -> str:
        output = await self.agent.act(list(self.messages))
        self.usage.add(output)
        text = (output.message.get("content") or "").strip()
        self.messages.append({"role": "assistant", "content": text})
        return text

    async def aclose(self) -> None:
        """Close the model if this user made it from a spec (an agent object passed in stays open)."""
        if self._owns_agent:
            await self.agent.aclose()
