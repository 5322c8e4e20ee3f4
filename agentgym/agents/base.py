"""The agent interface: a conversation in, the next assistant message out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.models.context import ContextWindowExceeded

__all__ = ["Agent", "AgentError", "AgentOutput", "ContextWindowExceeded"]


class AgentError(RuntimeError):
    """A problem no retry will fix (bad key, unknown model, unreachable server): the run should stop.

    Not to be confused with `ContextWindowExceeded`, which an agent raises when one episode's conversation
    no longer fits its model: that episode ends truncated and the run goes on.
    """


@dataclass
class AgentOutput:
    """One assistant turn as produced by an agent.

    `token_ids`/`logprobs` are the exact tokens the model generated and their log-probs, when the agent
    can see them (local models, vLLM); API agents leave them None or give log-probs only.
    """

    message: dict[str, Any]
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    finish_reason: str | None = None
    latency: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Agent(ABC):
    """Maps a conversation (OpenAI messages) to the next assistant message."""

    #: a readable id, stored in trajectories
    name: str = "agent"

    @abstractmethod
    async def act(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        stop: Sequence[str] | None = None,
    ) -> AgentOutput:
        """Produce the next assistant message.

        Args:
            messages: the conversation so far.
            tools: OpenAI tool schemas, given only when the env uses native tool calling.
            stop: strings at which generation should stop (the env's text protocol closing tags).
        """

    async def check(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Fail fast with `AgentError` if the agent cannot work (bad key, unknown model, no server)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release clients and models."""
