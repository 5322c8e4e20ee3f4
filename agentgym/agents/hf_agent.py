"""`HFAgent`: a local `transformers` model; returns the exact generated token ids and their log-probs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from agentgym.agents.base import Agent, AgentError, AgentOutput
from agentgym.models.generation import SamplingParams
from agentgym.models.loading import ModelNotFoundError


class HFAgent(Agent):
    """A local causal LM (a folder, a `.gguf` file, or `smollm2`), batched across concurrent episodes.

    Each turn carries the exact sampled token ids and their log-probs under the sampling distribution
    (logits / temperature; temperature 1 when greedy), the quantity RL trainers score.

    Args:
        model: model spec (see `agentgym.models.resolve_model`).
        temperature, top_p, max_tokens: sampling settings (`temperature=0` is greedy).
        max_batch_size: concurrent requests folded into one forward batch.
        device, dtype: where and how the weights live.
        seed: seed of the sampler.
        max_model_len: the context window to enforce (default: the model config's). A turn is capped to what
            the window leaves; a conversation that fills it raises `ContextWindowExceeded`, which ends the
            episode as truncated.
    """

    def __init__(self, model: str, temperature: float = 0.7, top_p: float = 1.0, max_tokens: int = 256,
                 max_batch_size: int = 16, device: str = "cpu", dtype: str = "float32", seed: int | None = 0,
                 max_model_len: int | None = None) -> None:
        from agentgym.models.chat import LocalChatModel

        try:
            self.chat = LocalChatModel(model, device=device, dtype=dtype, max_batch_size=max_batch_size, seed=seed,
                                       max_model_len=max_model_len)
        except ModelNotFoundError as e:
            raise AgentError(str(e)) from None
        self.name = f"hf:{model}"
        self.temperature, self.top_p, self.max_tokens = temperature, top_p, max_tokens

    @property
    def tokenizer(self) -> Any:
        return self.chat.tokenizer

    @property
    def model(self) -> Any:
        return self.chat.model

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        params = SamplingParams(self.max_tokens, self.temperature, self.top_p, tuple(stop or ()))
        t0 = time.perf_counter()
        out = await self.chat.complete(messages, params, tools)
        gen = out.generation
        return AgentOutput(
            message=out.message, token_ids=gen.token_ids, logprobs=gen.logprobs,
            prompt_tokens=len(gen.prompt_token_ids), completion_tokens=len(gen.token_ids),
            finish_reason=gen.finish_reason, latency=time.perf_counter() - t0,
            extra={"prompt_token_ids": gen.prompt_token_ids},
        )

    async def aclose(self) -> None:
        await self.chat.aclose()
