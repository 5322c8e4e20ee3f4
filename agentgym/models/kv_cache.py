"""A KV cache for decoding loops that appends in place instead of re-concatenating every step.

transformers' `DynamicLayer` grows with `torch.cat`, which copies the whole cache on every decoded token:
for a batch of 32 rows over a 700-token prompt that copy was over half of each CPU decode step here.
`ReservedLayer` keeps keys and values in a buffer with room for the tokens still to come and exposes the
filled part as a view, so a step writes one column. It is a drop-in `DynamicLayer` (same attributes, batch
selection and repetition for dropping finished rows and sharing a prefill), so attention code and masks see
the same tensors as before.
"""

from __future__ import annotations

from typing import Any

import torch

try:  # transformers >= 4.56 builds caches from per-layer objects
    from transformers.cache_utils import DynamicCache, DynamicLayer
except ImportError:  # pragma: no cover - older transformers: callers fall back to the model's own cache
    DynamicCache = DynamicLayer = None  # type: ignore[assignment,misc]


class ReservedLayer(DynamicLayer):  # type: ignore[misc,valid-type]
    """A `DynamicLayer` whose keys/values live in a buffer with `reserve` free positions after the end."""

    def __init__(self, reserve: int = 64) -> None:
        super().__init__()
        self.reserve = reserve
        self._length = 0
        self._key_buf: torch.Tensor | None = None
        self._value_buf: torch.Tensor | None = None

    def _expose(self) -> None:
        assert self._key_buf is not None and self._value_buf is not None
        self.keys = self._key_buf[:, :, : self._length]
        self.values = self._value_buf[:, :, : self._length]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self._length + key_states.shape[-2]
        if self._key_buf is None or end > self._key_buf.shape[-2]:
            self._grow(key_states, value_states, end + self.reserve)
        assert self._key_buf is not None and self._value_buf is not None
        self._key_buf[:, :, self._length: end] = key_states
        self._value_buf[:, :, self._length: end] = value_states
        self._length = end
        self._expose()
        return self.keys, self.values

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, capacity: int) -> None:
        b, h, _, dk = key_states.shape
        new_k = key_states.new_empty((b, h, capacity, dk))
        new_v = value_states.new_empty((b, h, capacity, value_states.shape[-1]))
        if self._length:
            new_k[:, :, : self._length] = self.keys
            new_v[:, :, : self._length] = self.values
        self._key_buf, self._value_buf = new_k, new_v

    def get_seq_length(self) -> int:
        return self._length if self.is_initialized else 0

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self._key_buf is not None:
            self._key_buf = self._key_buf[indices]
            self._value_buf = self._value_buf[indices]  # type: ignore[index]
            self._expose()

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self._key_buf is not None:
            self._key_buf = self._key_buf.repeat_interleave(repeats, dim=0)
            self._value_buf = self._value_buf.repeat_interleave(repeats, dim=0)  # type: ignore[union-attr]
            self._expose()

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove")
        if tokens_to_remove and self._key_buf is not None:
            self._length = max(0, self._length + tokens_to_remove)
            self._expose()

    def reset(self) -> None:
        self._length = 0
        self._key_buf = self._value_buf = None
        super().reset()


def reserved_cache(model: Any, reserve: int) -> Any | None:
    """A `DynamicCache` for `model` whose full-attention layers append in place, or None where the model's
    cache is not the plain per-layer kind (sliding windows, linear attention, older transformers): callers
    then let the model build its own."""
    if DynamicCache is None:
        return None
    try:
        cache = DynamicCache(config=model.config)
    except Exception:
        return None
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        return None
    cache.layers = [ReservedLayer(reserve) for _ in layers]
    return cache
