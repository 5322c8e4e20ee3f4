"""Gymnasium spaces for chat: observations are lists of OpenAI message dicts, actions are assistant text
or an assistant message dict."""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces

from agentgym.messages import ROLES

_ALPHABET = np.array(list(string.ascii_letters + string.digits + string.punctuation + " \n"))


def _random_text(rng: np.random.Generator, max_len: int) -> str:
    n = int(rng.integers(0, max_len + 1))
    return "".join(rng.choice(_ALPHABET, size=n)) if n else ""


class ChatMessages(spaces.Space[list[dict[str, Any]]]):
    """A list of OpenAI-format chat messages (dicts with a `role` and string or null `content`)."""

    def __init__(self, max_messages: int = 4, seed: int | np.random.Generator | None = None) -> None:
        self.max_messages = max_messages
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        if not isinstance(x, list):
            return False
        for m in x:
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return False
            content = m.get("content")
            if content is not None and not isinstance(content, str):
                return False
        return True

    def sample(self, mask: Any = None, probability: Any = None) -> list[dict[str, Any]]:
        n = int(self.np_random.integers(1, self.max_messages + 1))
        roles = ["user", "tool", "assistant"]
        return [{"role": roles[int(self.np_random.integers(3))], "content": _random_text(self.np_random, 64)}
                for _ in range(n)]

    def __repr__(self) -> str:
        return "ChatMessages()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatMessages)


class ChatAction(spaces.Space[Any]):
    """An assistant turn: raw text, or an assistant message dict (with optional native `tool_calls`)."""

    def __init__(self, max_length: int = 128, seed: int | np.random.Generator | None = None) -> None:
        self.max_length = max_length
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        if isinstance(x, str):
            return True
        return isinstance(x, dict) and x.get("role", "assistant") == "assistant"

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        return _random_text(self.np_random, self.max_length)

    def __repr__(self) -> str:
        return "ChatAction()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatAction)
