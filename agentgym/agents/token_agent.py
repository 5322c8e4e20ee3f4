"""`TokenAgent`: a policy the episode loop drives at the token level (local models, rollout engines).

Each episode keeps its context as token ids: the chat template of the opening messages, then for every turn
the ids the model generated, exactly as sampled, and the template's delta for the observation. Nothing is
re-rendered or re-tokenized between turns, and every turn reports the ids that were appended to the
context before it (`AgentOutput.context_ids`), so the trainer's token view is the recorded ids concatenated.
An env that rebuilds the context (`context_reset`) starts a new token context from its observation.

Models without native tool calling get native tools described in the Hermes text format, and the
`<tool_call>` blocks they write come back as OpenAI `tool_calls` (as from the local model server).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from agentgym.agents.base import Agent, AgentOutput, EpisodeSession
from agentgym.models.chat_template import (
    assistant_message,
    prepare_messages,
    prompt_ids,
    text_messages,
    turn_delta_ids,
    with_tool_stop,
)
from agentgym.models.context import ContextWindowExceeded, completion_budget

if TYPE_CHECKING:  # torch is imported only by those who generate
    from agentgym.models.generation import Generation, SamplingParams


class TokenGenerator(Protocol):
    """What a token agent samples from: a `RequestBatcher` (local model, `HFEngine`, `VLLMEngine`)."""

    async def generate(self, prompt: Sequence[int], params: SamplingParams) -> Generation: ...


class TokenAgent(Agent):
    """A token-level policy over `generator`.

    Args:
        generator: samples completions from prompt ids (concurrent episodes are batched by it).
        tokenizer: the model's tokenizer, with its chat template.
        params: sampling settings of every turn (stop strings from the env are added).
        context_window: the model's window (prompt + completion); a turn is capped to what it leaves, and
            a context that fills it raises `ContextWindowExceeded` (the episode ends truncated).
        max_length: a trainer's cap on an episode's token context, enforced the same way.
        name: stored in trajectories.
    """

    def __init__(self, generator: TokenGenerator, tokenizer: Any, params: SamplingParams,
                 context_window: int | None = None, max_length: int | None = None, name: str = "policy") -> None:
        self.generator, self.tokenizer, self.params = generator, tokenizer, params
        self.context_window, self.max_length, self.name = context_window, max_length, name

    def start_episode(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                      stop: Sequence[str] = ()) -> TokenSession:
        return TokenSession(self, messages, tools, stop)

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        """One turn from `messages` rendered afresh (outside an episode loop)."""
        return await self.start_episode(messages, tools=tools, stop=stop or ()).next()

    def completion_budget(self, context_tokens: int) -> int:
        """Tokens the next turn may generate; raises `ContextWindowExceeded` when there is no room."""
        budget = completion_budget(context_tokens, self.params.max_new_tokens, self.context_window, strict=False)
        if self.max_length is not None:
            if context_tokens >= self.max_length:
                raise ContextWindowExceeded(self.max_length, context_tokens, message=(
                    f"the episode's token context ({context_tokens} tokens) reached the trainer's max_length "
                    f"({self.max_length})"))
            budget = min(budget, self.max_length - context_tokens)
        return budget


class TokenSession(EpisodeSession):
    """One episode's exact token context (see the module docstring)."""

    def __init__(self, agent: TokenAgent, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None,
                 stop: Sequence[str]) -> None:
        self.agent, self.tools = agent, tools
        self.stop = with_tool_stop(tuple(dict.fromkeys([*agent.params.stop, *stop])), tools)
        self._restart(messages)

    def _as_text(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        # native tool calls and results are spelled out in the Hermes format; a text-protocol env's messages
        # are already what the model reads, and go to the chat template as they are
        return text_messages(messages) if self.tools else [dict(m) for m in messages]

    def _restart(self, messages: Sequence[dict[str, Any]]) -> None:
        self.history = prepare_messages(messages, self.tools) if self.tools else [dict(m) for m in messages]
        self.ids = prompt_ids(self.agent.tokenizer, self.history)
        self.pending = list(self.ids)  # appended since the last generation
        self._text = ""

    async def next(self) -> AgentOutput:
        agent = self.agent
        budget = agent.completion_budget(len(self.ids))
        t0 = time.perf_counter()
        gen = await agent.generator.generate(self.ids, replace(agent.params, max_new_tokens=budget, stop=self.stop))
        self._text = gen.text  # the assistant turn as the template will render it in the history
        return AgentOutput(
            message=assistant_message(gen.text, self.tools), token_ids=list(gen.token_ids),
            logprobs=list(gen.logprobs), prompt_tokens=len(self.ids), completion_tokens=len(gen.token_ids),
            finish_reason=gen.finish_reason, latency=time.perf_counter() - t0, context_ids=self.pending,
        )

    def observe(self, output: AgentOutput, observation: Sequence[dict[str, Any]], context_reset: bool) -> None:
        if context_reset:
            self._restart(observation)
            return
        generated = list(output.token_ids or ())
        obs = self._as_text(observation)
        delta = turn_delta_ids(self.agent.tokenizer, self.history, obs, generated)
        self.history += [{"role": "assistant", "content": self._text}, *obs]
        self.ids = self.ids + generated + delta
        self.pending = delta
