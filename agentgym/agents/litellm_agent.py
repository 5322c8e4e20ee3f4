"""`LiteLLMAgent`: every provider litellm supports, with cost from litellm's pricing table."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from agentgym.agents.base import Agent, AgentError, AgentOutput, ContextWindowExceeded
from agentgym.agents.openai_agent import is_context_overflow, restore_stop


class LiteLLMAgent(Agent):
    """Chat completions through `litellm.acompletion` (model ids like `anthropic/claude-...`,
    `openai/NAME` with `base_url` for any OpenAI-compatible server, ...).

    Args mirror `OpenAIAgent`; `num_retries` retries rate limits, timeouts and 5xx with backoff.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_tokens: int = 512,
        logprobs: bool = False,
        max_retries: int = 4,
        timeout: float = 120.0,
    ) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of prices
        try:
            import litellm
        except ImportError:
            raise AgentError("litellm is not installed: pip install 'agentgym[litellm]'") from None
        self._litellm = litellm
        litellm.suppress_debug_info = True
        self.model = model
        self.name = f"litellm:{model}"
        self.base_url, self.api_key = base_url, api_key
        self.temperature, self.top_p, self.max_tokens = temperature, top_p, max_tokens
        self.logprobs, self.max_retries, self.timeout = logprobs, max_retries, timeout

    def _translate(self, e: Exception) -> Exception:
        ll = self._litellm
        where = self.base_url or self.model
        if isinstance(e, (getattr(ll, "AuthenticationError", ()), getattr(ll, "PermissionDeniedError", ()))):
            return AgentError(f"authentication failed for {where}: check the API key")
        if isinstance(e, getattr(ll, "NotFoundError", ())):
            return AgentError(f"model {self.model!r} not found at {where}")
        if isinstance(e, (getattr(ll, "APIConnectionError", ()), getattr(ll, "Timeout", ()))):
            return AgentError(f"cannot reach {where}: {type(e).__name__}")
        if isinstance(e, getattr(ll, "RateLimitError", ())):
            return AgentError(f"rate limited at {where} after retries; rerun later to resume")
        if isinstance(e, getattr(ll, "BadRequestError", ())) and "LLM Provider NOT provided" in str(e):
            return AgentError(f"litellm does not know the provider of {self.model!r}: use PROVIDER/MODEL")
        if isinstance(e, getattr(ll, "ContextWindowExceededError", ())) or (
                isinstance(e, getattr(ll, "BadRequestError", ())) and is_context_overflow(e)):
            return ContextWindowExceeded(None, None, message=f"{self.model} at {where}: {str(e)[:500]}")
        return e

    async def check(self) -> None:
        try:
            self._litellm.get_llm_provider(self.model, api_base=self.base_url)
        except Exception as e:
            raise AgentError(f"litellm cannot route {self.model!r}: {str(e).splitlines()[0][:200]}") from None

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        kwargs: dict[str, Any] = {
            "model": self.model, "messages": list(messages), "temperature": self.temperature, "top_p": self.top_p,
            "max_tokens": self.max_tokens, "num_retries": self.max_retries, "timeout": self.timeout,
        }
        if self.base_url:
            kwargs["api_base"] = self.base_url
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if tools:
            kwargs["tools"] = list(tools)
        if stop:
            kwargs["stop"] = list(stop)[:4]
        if self.logprobs:
            kwargs["logprobs"] = True
        t0 = time.perf_counter()
        try:
            resp = await self._litellm.acompletion(**kwargs)
        except Exception as e:
            raise self._translate(e) from None
        latency = time.perf_counter() - t0
        choice = resp.choices[0]
        msg = choice.message
        stop_reason = getattr(choice, "stop_reason", None)
        message: dict[str, Any] = {"role": "assistant", "content": restore_stop(msg.content, stop_reason, stop)}
        if getattr(msg, "tool_calls", None):
            message["tool_calls"] = [
                {"id": tc.id, "type": "function", "function": {"name": tc.function.name, "arguments": tc.function.arguments}}
                for tc in msg.tool_calls
            ]
        logprobs = None
        lp = getattr(choice, "logprobs", None)
        content_lp = getattr(lp, "content", None) if lp is not None else None
        if content_lp:
            logprobs = [float(t.logprob) for t in content_lp]
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        try:
            cost = float(self._litellm.completion_cost(completion_response=resp) or 0.0)
        except Exception:
            cost = 0.0  # unpriced models (local servers)
        return AgentOutput(message=message, logprobs=logprobs, prompt_tokens=pt, completion_tokens=ct, cost=cost,
                           finish_reason=getattr(choice, "finish_reason", None), latency=latency)
