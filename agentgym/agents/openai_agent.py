"""`OpenAIAgent`: any OpenAI-compatible chat completions server through the official `openai` SDK."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import openai

from agentgym.agents.base import Agent, AgentError, AgentOutput, ContextWindowExceeded

_MAX_STOP = 4  # the OpenAI API accepts at most four stop sequences


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """Dollar cost from litellm's pricing table when litellm is installed and knows the model; else 0."""
    try:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of prices
        import litellm

        p, c = litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return float(p + c)
    except Exception:
        return 0.0


def is_context_overflow(e: Exception) -> bool:
    """Whether a provider's 400 says the conversation does not fit the model (OpenAI, vLLM, agentgym's
    server: code `context_length_exceeded` or a message about the maximum context length)."""
    body = getattr(e, "body", None)
    code = body.get("code") if isinstance(body, dict) else getattr(e, "code", None)
    text = str(e).lower()
    return code == "context_length_exceeded" or "maximum context length" in text or "context window" in text


def restore_stop(content: str | None, stop_reason: Any, stop: Sequence[str] | None) -> str | None:
    """Servers drop the matched stop string; put it back so the transcript shows the closed tag."""
    if content is not None and isinstance(stop_reason, str) and stop and stop_reason in stop:
        return content + stop_reason
    return content


class OpenAIAgent(Agent):
    """Chat completions through `openai.AsyncOpenAI`.

    Args:
        model: the model name the server knows.
        base_url: server URL (None: the SDK default or `OPENAI_BASE_URL`).
        api_key: key (None: `OPENAI_API_KEY`; a placeholder for local servers that need none).
        temperature, top_p, max_tokens: sampling settings.
        logprobs: ask for token log-probs.
        max_retries: retries with exponential backoff on 429, 5xx, timeouts and connection errors.
        timeout: seconds per request.
        extra_body: extra JSON fields for the server (e.g. vLLM sampling options).
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
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if key is None and (base_url or os.environ.get("OPENAI_BASE_URL")):
            key = "EMPTY"  # local OpenAI-compatible servers ignore the key
        if key is None:
            raise AgentError("no API key: set OPENAI_API_KEY or pass --api-key (or --base-url for a local server)")
        self.base_url = base_url
        self.client = openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=max_retries, timeout=timeout)
        self.temperature, self.top_p, self.max_tokens = temperature, top_p, max_tokens
        self.logprobs = logprobs
        self.extra_body = extra_body or {}

    @property
    def _where(self) -> str:
        return str(self.client.base_url)

    def _translate(self, e: Exception) -> Exception:
        if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return AgentError(f"authentication failed at {self._where}: check the API key ({e.status_code})")
        if isinstance(e, openai.NotFoundError):
            return AgentError(f"model {self.model!r} not found at {self._where}")
        if isinstance(e, openai.APIConnectionError):
            return AgentError(f"cannot reach {self._where}: {e.__class__.__name__}")
        if isinstance(e, openai.RateLimitError):
            return AgentError(f"rate limited at {self._where} after retries; rerun later to resume")
        if isinstance(e, openai.InternalServerError):
            return AgentError(f"server error at {self._where} after retries ({e.status_code})")
        if isinstance(e, openai.BadRequestError) and is_context_overflow(e):
            return ContextWindowExceeded(None, None, message=f"{self.model} at {self._where}: {e.message}")
        return e

    async def check(self) -> None:
        try:
            models = await self.client.with_options(max_retries=1).models.list()
        except openai.NotFoundError:
            return  # a server without /models: the first request will tell
        except Exception as e:
            raise self._translate(e) from None
        ids = [m.id for m in models.data]
        if ids and self.model not in ids:
            shown = ", ".join(ids[:8]) + (" ..." if len(ids) > 8 else "")
            raise AgentError(f"model {self.model!r} not served at {self._where}; available: {shown}")

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        kwargs: dict[str, Any] = {
            "model": self.model, "messages": list(messages), "temperature": self.temperature, "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        if tools:
            kwargs["tools"] = list(tools)
        if stop:
            kwargs["stop"] = list(stop)[:_MAX_STOP]
        if self.logprobs:
            kwargs["logprobs"] = True
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        t0 = time.perf_counter()
        try:
            resp = await self.client.chat.completions.create(**kwargs)
        except Exception as e:
            raise self._translate(e) from None
        latency = time.perf_counter() - t0
        choice = resp.choices[0]
        msg = choice.message
        content = restore_stop(msg.content, getattr(choice, "stop_reason", None) or (choice.model_extra or {}).get(
            "stop_reason"), stop)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if msg.tool_calls:
            message["tool_calls"] = [tc.model_dump() for tc in msg.tool_calls]
        logprobs = None
        if choice.logprobs is not None and choice.logprobs.content:
            logprobs = [float(t.logprob) for t in choice.logprobs.content]
        usage = resp.usage
        pt, ct = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        return AgentOutput(
            message=message, logprobs=logprobs, prompt_tokens=pt, completion_tokens=ct,
            cost=price(self.model, pt, ct), finish_reason=choice.finish_reason, latency=latency,
        )

    async def aclose(self) -> None:
        await self.client.close()
