"""Optimizer and learning-rate schedule of the RL trainers (AdamW; constant / linear / cosine with warmup)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


def make_adamw(params: Iterable[torch.nn.Parameter] | Any, cfg: Any, lr: float | None = None) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters (of a module, or an iterable of parameters); the fused kernel
    where torch has it for these tensors (same update rule as the default for-each kernel, one pass over
    the parameters instead of several)."""
    if hasattr(params, "parameters"):
        params = params.parameters()
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters")
    kw = dict(lr=lr or cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), weight_decay=cfg.weight_decay)
    try:
        return torch.optim.AdamW(trainable, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(trainable, **kw)


def lr_factor(step: int, total: int, kind: str = "constant", warmup: int = 0, min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate at training step `step` (0-based) of `total`.

    Warmup ramps linearly, `(step + 1) / warmup`, so the first step already learns; afterwards "constant"
    stays at 1, "linear" and "cosine" decay to `min_ratio` at the last step.
    """
    if step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    span = max(total - warmup - 1, 1)
    progress = min(max((step - warmup) / span, 0.0), 1.0)
    if kind == "linear":
        return 1.0 - (1.0 - min_ratio) * progress
    if kind == "cosine":
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr_scheduler {kind!r}")


def make_lr_scheduler(optimizer: torch.optim.Optimizer, cfg: Any) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-training-step schedule from `cfg.lr_scheduler`, `cfg.warmup_steps`, `cfg.min_lr_ratio`, `cfg.steps`.

    The schedule is a plain function, so a checkpoint keeps only the step count: a run resumed with more
    `steps` decays over the new total.
    """
    total, kind, warmup, min_ratio = cfg.steps, cfg.lr_scheduler, cfg.warmup_steps, cfg.min_lr_ratio

    def factor(step: int) -> float:
        return lr_factor(step, total, kind, warmup, min_ratio)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
