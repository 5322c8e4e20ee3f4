"""A model's context window, and what to do with a request that does not fit in it.

The window holds the prompt and the completion together. A server rejects a request whose prompt plus its
explicit `max_tokens` exceed it (as vLLM does, with both numbers in the message); when `max_tokens` is left
to the server, or an agent generates within a running episode, the completion is capped to what remains.
A prompt that leaves no room at all is `ContextWindowExceeded` everywhere.
"""

from __future__ import annotations

from typing import Any

# tokenizers without a known limit report a huge sentinel (1e30) as model_max_length
_NO_LIMIT = 10**8
_CONFIG_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


class ContextWindowExceeded(ValueError):
    """A prompt (plus the completion asked for) does not fit the model's context window.

    Inside an episode this ends the episode as truncated, with this message as the reason; it never stops a
    whole eval or training run.

    Attributes:
        window: the model's context window, in tokens (None when a remote provider did not say).
        prompt_tokens: tokens in the prompt (None when a remote provider did not say).
        max_tokens: completion tokens asked for (0 when the prompt alone is too long).
    """

    def __init__(self, window: int | None, prompt_tokens: int | None, max_tokens: int = 0,
                 message: str | None = None) -> None:
        self.window, self.prompt_tokens, self.max_tokens = window, prompt_tokens, max_tokens
        if message is None:
            if window is None or prompt_tokens is None:
                raise ValueError("ContextWindowExceeded needs the window and prompt size, or a message")
            asked = f"{prompt_tokens} prompt tokens" + (f" + {max_tokens} completion tokens (max_tokens)"
                                                        if max_tokens else "")
            message = (f"This model's maximum context length is {window} tokens, but the request needs "
                       f"{prompt_tokens + max_tokens} ({asked}). Shorten the messages"
                       + (" or lower max_tokens." if max_tokens else "."))
        super().__init__(message)


def context_window(model: Any, tokenizer: Any = None) -> int | None:
    """The number of positions `model` can attend over (prompt + completion), or None when unknown."""
    config = getattr(model, "config", None)
    for name in _CONFIG_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < _NO_LIMIT:
        return limit
    return None


def completion_budget(prompt_tokens: int, max_tokens: int, window: int | None, *, strict: bool) -> int:
    """How many tokens may be generated after a prompt of `prompt_tokens`.

    Args:
        max_tokens: the completion length asked for.
        window: the context window (None: unlimited).
        strict: reject (`ContextWindowExceeded`) a request whose prompt plus `max_tokens` exceed the window;
            otherwise cap `max_tokens` to what remains.

    Raises:
        ContextWindowExceeded: when the prompt leaves no room for one token, or `strict` and it does not fit.
    """
    if window is None:
        return max_tokens
    if prompt_tokens >= window:
        raise ContextWindowExceeded(window, prompt_tokens, max_tokens if strict else 0)
    if prompt_tokens + max_tokens > window:
        if strict:
            raise ContextWindowExceeded(window, prompt_tokens, max_tokens)
        return window - prompt_tokens
    return max_tokens
