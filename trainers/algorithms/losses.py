"""Policy, value, KL and entropy losses: pure functions over `(B, T)` tensors and a policy-token mask.

Each loss returns `(loss, metrics)` where `metrics` holds detached scalar tensors (clip fractions, the
approximate KL to the behaviour policy). The arithmetic follows verl's `core_algos` where the algorithm
is the same, so the numbers agree to float precision.
"""

from __future__ import annotations

import torch
from agentgym.trainers.algorithms.aggregation import aggregate_loss
from agentgym.trainers.algorithms.masked import masked_mean


def ppo_clip_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: float | None = None,
    dual_clip: float | None = 3.0,
    agg: str = "token-mean",
    **agg_kwargs: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO's clipped surrogate with separate low/high ranges (DAPO clip-higher) and dual-clip.

    The ratio is clipped to `[1 - clip_low, 1 + clip_high]` (`clip_high` defaults to `clip_low`). With
    `dual_clip=c` (> 1), a token with negative advantage loses at most `-A * c` (Ye et al. 2020), so a
    huge ratio on a bad action cannot blow up the gradient. The log-ratio is clamped to +-20.
    """
    if clip_high is None:
        clip_high = clip_low
    log_ratio = torch.clamp(logprobs - old_logprobs, -20.0, 20.0)
    ratio = torch.exp(log_ratio)
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    loss_ppo = torch.maximum(loss_unclipped, loss_clipped)
    metrics = {
        "clipfrac": masked_mean((loss_clipped > loss_unclipped).float(), mask).detach(),
        "approx_kl": masked_mean(-log_ratio, mask).detach(),
    }
    if dual_clip is not None:
        if dual_clip <= 1.0:
            raise ValueError(f"dual_clip must be > 1, got {dual_clip}")
        loss_cap = -advantages * dual_clip
        negative = advantages < 0
        metrics["clipfrac_lower"] = masked_mean(((loss_ppo > loss_cap) & negative).float(), mask).detach()
        loss_ppo = torch.where(negative, torch.minimum(loss_ppo, loss_cap), loss_ppo)
    return aggregate_loss(loss_ppo, mask, agg, **agg_kwargs), metrics


def gspo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 3e-4,
    clip_high: float | None = 4e-4,
    agg: str = "seq-mean-token-mean",
    **agg_kwargs: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """GSPO (Zheng et al. 2025): clip a sequence-level ratio, the geometric mean of the token ratios.

    Each token's ratio is `sg[s_i] * pi / sg[pi]`: its value is the sequence ratio `s_i` and its gradient
    flows through the token's own log-prob. The log of the ratio is clamped at 10.
    """
    if clip_high is None:
        clip_high = clip_low
    m = mask.to(logprobs.dtype)
    log_ratio = logprobs - old_logprobs
    seq_log_ratio = (log_ratio * m).sum(dim=-1) / m.sum(dim=-1).clamp(min=1)
    token_log_ratio = logprobs - logprobs.detach() + seq_log_ratio.detach().unsqueeze(-1)
    ratio = torch.exp(torch.clamp(token_log_ratio, max=10.0))
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    loss_mat = torch.maximum(loss_unclipped, loss_clipped)
    metrics = {
        "clipfrac": masked_mean((loss_clipped > loss_unclipped).float(), mask).detach(),
        "approx_kl": masked_mean(-log_ratio, mask).detach(),
    }
    return aggregate_loss(loss_mat, mask, agg, **agg_kwargs), metrics


def value_loss(
    values: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
    agg: str = "token-mean",
    **agg_kwargs: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped value loss: `0.5 * max((v - R)^2, (clip(v, v_old +- clip) - R)^2)`, aggregated."""
    clipped = torch.clamp(values, old_values - clip, old_values + clip)
    loss_a = (values - returns) ** 2
    loss_b = (clipped - returns) ** 2
    loss = 0.5 * aggregate_loss(torch.maximum(loss_a, loss_b), mask, agg, **agg_kwargs)
    return loss, {"vf_clipfrac": masked_mean((loss_b > loss_a).float(), mask).detach()}


KL_ESTIMATORS = ("k1", "k2", "k3", "abs")


def kl_estimate(
    logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "k3", straight_through: bool = False
) -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from the sampled tokens' log-probs (Schulman 2020).

    - ``k1``: `log pi - log pi_ref` (unbiased, high variance, can be negative);
    - ``k2``: `0.5 * (log pi - log pi_ref)^2`;
    - ``k3`` (low-variance KL): `r - log r - 1` with `r = pi_ref / pi`, log-ratio clamped to +-20 and the
      result to +-10;
    - ``abs``: `|log pi - log pi_ref|`.

    `straight_through=True` keeps the value of the chosen estimator but takes the gradient of k2, whose
    gradient is the unbiased one (verl's ``k3+``).
    """
    diff = logprobs - ref_logprobs
    if kind == "k1":
        value = diff
    elif kind == "k2":
        value = 0.5 * diff.square()
    elif kind == "k3":
        log_r = torch.clamp(-diff, -20.0, 20.0)
        value = torch.clamp(torch.exp(log_r) - log_r - 1.0, -10.0, 10.0)
    elif kind == "abs":
        value = diff.abs()
    else:
        raise ValueError(f"unknown KL estimator {kind!r}; choose from {KL_ESTIMATORS}")
    if straight_through and kind != "k2":
        grad_path = 0.5 * diff.square()
        value = grad_path - grad_path.detach() + value.detach()
    return value


def kl_loss(
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    kind: str = "k3",
    agg: str = "token-mean",
    **agg_kwargs: float,
) -> torch.Tensor:
    """KL penalty to a reference policy, aggregated like the policy loss."""
    return aggregate_loss(kl_estimate(logprobs, ref_logprobs, kind), mask, agg, **agg_kwargs)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution over the last dim: `logsumexp(z) - sum(softmax(z) * z)`."""
    probs = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)


def entropy_bonus(entropy: torch.Tensor, mask: torch.Tensor, agg: str = "token-mean", **agg_kwargs: float) -> torch.Tensor:
    """Aggregated per-token entropy; subtract `coef * entropy_bonus(...)` from the loss to encourage exploration."""
    return aggregate_loss(entropy, mask, agg, **agg_kwargs)
