"""The agent interface: a conversation in, the next assistant message out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from agentgym.models.context import ContextWindowExceeded

__all__ = ["Agent", "AgentError", "AgentOutput", "ContextWindowExceeded", "EpisodeSession", "MessageSession",
           "ModelUsage"]


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
    # token-level policies: the ids appended to the episode's token context right before this generation
    # (the whole prompt on the first turn of a context, the observation's template delta after that)
    context_ids: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # facts the episode loop merges into `Trajectory.info` (e.g. a search agent's `search_tree`)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelUsage:
    """Calls, tokens and cost of a model an env runs inside itself (a simulated user, a reasoner), counted
    apart from the policy's."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, output: AgentOutput | None = None) -> None:
        """Count one call (and, given the model's output, its tokens and cost)."""
        self.calls += 1
        if output is not None:
            self.prompt_tokens += int(output.prompt_tokens or 0)
            self.completion_tokens += int(output.completion_tokens or 0)
            self.cost += float(output.cost or 0.0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EpisodeSession(ABC):
    """One episode as a policy sees it. The episode loop calls `next()` for each turn and `observe()` with
    the env's answer; whether the policy keeps messages or token ids is its own business."""

    @abstractmethod
    async def next(self) -> AgentOutput:
        """The next assistant turn. Raises `ContextWindowExceeded` when the context no longer fits."""

    @abstractmethod
    def observe(self, output: AgentOutput, observation: Sequence[dict[str, Any]], context_reset: bool) -> None:
        """The env answered `output` with `observation`; with `context_reset` the observation is the whole
        next context instead of messages to append."""


class MessageSession(EpisodeSession):
    """A message-level episode: the conversation as OpenAI messages, re-sent to `agent.act` every turn."""

    def __init__(self, agent: Agent, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None,
                 stop: Sequence[str]) -> None:
        self.agent, self.tools, self.stop = agent, tools, list(stop) or None
        self.conversation = list(messages)

    async def next(self) -> AgentOutput:
        return await self.agent.act(self.conversation, tools=self.tools, stop=self.stop)

    def observe(self, output: AgentOutput, observation: Sequence[dict[str, Any]], context_reset: bool) -> None:
        if context_reset:
            self.conversation = list(observation)
        else:
            self.conversation += [output.message, *observation]


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

    def start_episode(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                      stop: Sequence[str] = ()) -> EpisodeSession:
        """A session for one episode starting from `messages` (message-level by default; token-level agents
        keep the episode's exact token context instead)."""
        return MessageSession(self, messages, tools, stop)

    async def check(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Fail fast with `AgentError` if the agent cannot work (bad key, unknown model, no server)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release clients and models."""
