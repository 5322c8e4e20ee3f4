"""A local chat model: OpenAI messages (with native tools) in, an assistant message with exact tokens out.

Shared by `HFAgent` and the OpenAI-compatible server. Models without native tool calling get the tools
described in their system prompt in the Hermes format; `<tool_call>` blocks they write are parsed back into
OpenAI `tool_calls`, so callers see the same shape as from a hosted API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from agentgym.models.chat_template import assistant_message, prepare_messages, prompt_ids, with_tool_stop
from agentgym.models.context import completion_budget, context_window
from agentgym.models.generation import BatchingGenerator, Generation, SamplingParams
from agentgym.models.loading import load_model

_TOKENIZE_OFF_LOOP_CHARS = 50_000


def _approx_chars(messages: Sequence[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content") or "")) for m in messages)


@dataclass
class ChatCompletion:
    message: dict[str, Any]
    generation: Generation


class LocalChatModel:
    """A `transformers` model behind a chat interface, batching concurrent requests.

    Args:
        spec: model spec (see `agentgym.models.resolve_model`).
        device, dtype: where and how the weights live.
        max_batch_size: concurrent requests folded into one forward batch.
        seed: seed of the sampler.
        max_model_len: the context window (prompt + completion) to enforce; default: the model config's.
        lanes: batches that may decode at once (see `RequestBatcher`).
        request_timeout: seconds a request may decode before it ends with finish reason "time_limit".
    """

    def __init__(self, spec: str, device: str = "cpu", dtype: str = "float32", max_batch_size: int = 16,
                 seed: int | None = None, max_model_len: int | None = None, lanes: int = 1,
                 request_timeout: float | None = None) -> None:
        self.spec = spec
        self.model, self.tokenizer = load_model(spec, dtype=dtype, device=device)
        self.context_window = max_model_len or context_window(self.model, self.tokenizer)
        self.generator = BatchingGenerator(self.model, self.tokenizer, max_batch_size=max_batch_size, seed=seed,
                                           lanes=lanes, request_timeout=request_timeout)

    def prompt_ids(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None) -> list[int]:
        return prompt_ids(self.tokenizer, prepare_messages(messages, tools))

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        params: SamplingParams,
        tools: Sequence[dict[str, Any]] | None = None,
        *,
        strict_max_tokens: bool = False,
    ) -> ChatCompletion:
        """Generate the next assistant message.

        The completion is capped to what the context window leaves after the prompt; with
        `strict_max_tokens` a prompt plus `params.max_new_tokens` that exceed the window is rejected
        instead. Raises `ContextWindowExceeded` (before anything is queued) when it does not fit.
        """
        stop = with_tool_stop(params.stop, tools)
        if _approx_chars(messages) > _TOKENIZE_OFF_LOOP_CHARS:  # seconds of tokenizing: off the event loop
            prompt = await asyncio.to_thread(self.prompt_ids, messages, tools)
        else:
            prompt = self.prompt_ids(messages, tools)
        budget = completion_budget(len(prompt), params.max_new_tokens, self.context_window, strict=strict_max_tokens)
        params = replace(params, max_new_tokens=budget, stop=stop)
        gen = await self.generator.generate(prompt, params)
        return ChatCompletion(message=assistant_message(gen.text, tools), generation=gen)

    async def aclose(self) -> None:
        await self.generator.aclose()
