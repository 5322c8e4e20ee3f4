"""`HFAgent`: a local `transformers` model as a token-level policy (exact token ids and log-probs per turn)."""

from __future__ import annotations

from typing import Any

from agentgym.agents.base import AgentError
from agentgym.agents.token_agent import TokenAgent
from agentgym.models.generation import SamplingParams
from agentgym.models.loading import ModelNotFoundError


class HFAgent(TokenAgent):
    """A local causal LM (a folder, a `.gguf` file, or `smollm2`), batched across concurrent episodes.

    Each turn carries the exact sampled token ids and their log-probs under the sampling distribution
    (logits / temperature; temperature 1 when greedy), the quantity RL trainers score, and the ids appended to
    the episode's token context before it (see `TokenAgent`).

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
        super().__init__(self.chat.generator, self.chat.tokenizer, SamplingParams(max_tokens, temperature, top_p),
                         context_window=self.chat.context_window, name=f"hf:{model}")

    @property
    def model(self) -> Any:
        return self.chat.model

    @property
    def temperature(self) -> float:
        return self.params.temperature

    async def aclose(self) -> None:
        await self.chat.aclose()
