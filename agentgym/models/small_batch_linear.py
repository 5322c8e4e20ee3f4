"""Faster CPU decoding: linear layers over a few rows computed as `W @ x.T`.

A decode step multiplies a handful of rows (one per sequence) by every weight matrix. On the CPU BLAS here
`F.linear(x, W)` (`x @ W.T`) streamed the weights at about 5 GB/s for 4-16 rows, while the same product
written as `(W @ x.T).T` ran at 11-18 GB/s (`bench/rollout_generation.py` and the figures in
trainers/README.md): the same arithmetic, laid out so the BLAS reads `W` row by row. `SmallBatchLinear`
rewrites `F.linear` that way for inputs of at most `max_rows` rows, inside a `with` block only (a
`TorchFunctionMode`, so nothing global is patched and other threads are not affected).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode


class SmallBatchLinear(TorchFunctionMode):
    """Within the block, `F.linear` on CPU float32 inputs with at most `max_rows` rows runs as `W @ x.T`."""

    def __init__(self, max_rows: int = 64) -> None:
        super().__init__()
        self.max_rows = max_rows

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is F.linear:
            x, weight = args[0], args[1] if len(args) > 1 else kwargs["weight"]
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            rows = x.numel() // max(x.shape[-1], 1)
            if (rows <= self.max_rows and x.device.type == "cpu" and x.dtype == torch.float32
                    and weight.dtype == torch.float32 and weight.dim() == 2):
                out = (weight @ x.reshape(rows, x.shape[-1]).t()).t().contiguous()
                if bias is not None:
                    out += bias
                return out.view(*x.shape[:-1], weight.shape[0])
        return func(*args, **kwargs)
