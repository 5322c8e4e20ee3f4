"""Loss aggregation: how a `(batch, seq)` matrix of per-token losses becomes one scalar.

Modes (as named by verl and DAPO / Dr.GRPO):

- ``token-mean``: every policy token in the batch weighs the same (DAPO).
- ``seq-mean-token-sum``: sum over a sequence's tokens, mean over sequences.
- ``seq-mean-token-mean``: mean over a sequence's tokens, then mean over sequences (original GRPO).
- ``seq-mean-token-sum-norm``: token sums divided by a constant horizon, mean over sequences (Dr.GRPO:
  no per-length normalization).

Sequences with no policy tokens are left out of the sequence means. For data-parallel training the
global token and sequence counts can be passed in so that each rank's loss sums to the global mean.
"""

from __future__ import annotations

import torch
from agentgym.trainers.algorithms.masked import masked_sum

AGG_MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm")


def aggregate_loss(
    loss_mat: torch.Tensor,
    mask: torch.Tensor,
    mode: str = "token-mean",
    *,
    num_tokens: float | torch.Tensor | None = None,
    num_seqs: float | torch.Tensor | None = None,
    horizon: float | None = None,
) -> torch.Tensor:
    """Reduce per-token losses `(B, T)` under `mask` to a scalar.

    Args:
        loss_mat: per-token losses.
        mask: 1 where a token counts.
        mode: one of `AGG_MODES`.
        num_tokens: token count to divide by in ``token-mean`` (default: this batch's masked count; pass
            the global count when micro-batching or under data parallelism).
        num_seqs: sequence count for the ``seq-mean-*`` modes (default: sequences with >= 1 token here).
        horizon: the constant of ``seq-mean-token-sum-norm`` (default: `T`, the padded length).
    """
    mask = mask.to(loss_mat.dtype)
    loss_mat = torch.where(mask.bool(), loss_mat, torch.zeros_like(loss_mat))  # padding garbage stays out
    if mode == "token-mean":
        denom = mask.sum() if num_tokens is None else num_tokens
        return masked_sum(loss_mat, mask) / denom
    seq_tokens = mask.sum(dim=-1)
    has_tokens = (seq_tokens > 0).to(loss_mat.dtype)
    seq_count = has_tokens.sum() if num_seqs is None else num_seqs
    if mode in ("seq-mean-token-sum", "seq-mean-token-sum-norm"):
        seq_loss = (loss_mat * mask).sum(dim=-1)
        loss = masked_sum(seq_loss, has_tokens) / seq_count
        if mode == "seq-mean-token-sum-norm":
            loss = loss / (horizon if horizon is not None else loss_mat.shape[-1])
        return loss
    if mode == "seq-mean-token-mean":
        seq_loss = (loss_mat * mask).sum(dim=-1) / (seq_tokens + 1e-8)
        return masked_sum(seq_loss, has_tokens) / seq_count
    raise ValueError(f"unknown loss aggregation mode {mode!r}; choose from {AGG_MODES}")
