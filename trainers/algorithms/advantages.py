"""Advantage estimators: pure functions over `(B, T)` token tensors with a policy-token mask.

Outcome estimators (GRPO, Dr.GRPO, batch-std, RLOO, REINFORCE++-baseline) take token-level rewards whose row
sum is the episode's score (a trajectory's reward sits on its last policy token) and a `group_index` that
says which rows answer the same task. They return `(advantages, returns)` shaped like the rewards and zero
outside the mask. Where verl's `core_algos` implements the same estimator, the numbers match it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch
from agentgym.trainers.algorithms.masked import masked_whiten


def as_group_index(groups: Sequence[Hashable] | torch.Tensor) -> torch.Tensor:
    """Map arbitrary group labels (task ids, uids) to a LongTensor of dense ids 0..G-1, in first-seen order."""
    if isinstance(groups, torch.Tensor) and groups.dtype == torch.long:
        _, inverse = torch.unique(groups, return_inverse=True)
        return inverse
    seen: dict[Hashable, int] = {}
    return torch.tensor([seen.setdefault(g, len(seen)) for g in groups], dtype=torch.long)


def group_stats(scores: torch.Tensor, group_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-row (group mean, group unbiased std, group size) of `scores` (B,).

    A group of one gets mean 0 and std 1, so its lone score passes through unchanged (verl's convention).
    """
    idx = as_group_index(group_index)
    n_groups = int(idx.max()) + 1 if idx.numel() else 0
    count = torch.zeros(n_groups, dtype=scores.dtype).index_add_(0, idx, torch.ones_like(scores))
    total = torch.zeros(n_groups, dtype=scores.dtype).index_add_(0, idx, scores)
    mean = total / count
    sq = torch.zeros(n_groups, dtype=scores.dtype).index_add_(0, idx, (scores - mean[idx]) ** 2)
    std = torch.sqrt(sq / (count - 1).clamp(min=1))
    single = count == 1
    mean = torch.where(single, torch.zeros_like(mean), mean)
    std = torch.where(single, torch.ones_like(std), std)
    return mean[idx], std[idx], count[idx]


@torch.no_grad()
def grpo_advantages(
    token_rewards: torch.Tensor,
    mask: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    eps: float = 1e-6,
    norm_by_std: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO: (score - group mean) / (group unbiased std + eps), broadcast over the row's policy tokens.

    `norm_by_std=False` gives Dr.GRPO's advantage (no std division); pair it with the
    ``seq-mean-token-sum-norm`` aggregation for Dr.GRPO's loss (no length normalization).
    """
    scores = token_rewards.sum(dim=-1)
    mean, std, _ = group_stats(scores, torch.as_tensor(as_group_index(group_index)))
    adv = (scores - mean) / (std + eps) if norm_by_std else scores - mean
    adv = adv.unsqueeze(-1) * mask
    return adv, adv


def dr_grpo_advantages(
    token_rewards: torch.Tensor, mask: torch.Tensor, group_index: torch.Tensor | Sequence[Hashable]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dr.GRPO (Liu et al. 2025): group-mean baseline, no std scaling."""
    return grpo_advantages(token_rewards, mask, group_index, norm_by_std=False)


@torch.no_grad()
def batch_std_advantages(
    token_rewards: torch.Tensor,
    mask: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    eps: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lite PPO's normalization: group-mean baseline, divided by the std of all scores in the batch.

    Groups whose rewards are all equal still get zero advantage, but a batch of nearly-solved groups is not
    blown up by a tiny per-group std.
    """
    scores = token_rewards.sum(dim=-1)
    mean, _, _ = group_stats(scores, torch.as_tensor(as_group_index(group_index)))
    std = scores.std() if scores.numel() > 1 else torch.ones((), dtype=scores.dtype)
    adv = ((scores - mean) / (std + eps)).unsqueeze(-1) * mask
    return adv, adv


@torch.no_grad()
def rloo_advantages(
    token_rewards: torch.Tensor, mask: torch.Tensor, group_index: torch.Tensor | Sequence[Hashable]
) -> tuple[torch.Tensor, torch.Tensor]:
    """RLOO: each score minus the mean of the *other* scores in its group, i.e. n/(n-1) * (score - mean)."""
    scores = token_rewards.sum(dim=-1)
    mean, _, count = group_stats(scores, torch.as_tensor(as_group_index(group_index)))
    loo = torch.where(count > 1, (scores - mean) * count / (count - 1).clamp(min=1), scores)
    adv = loo.unsqueeze(-1) * mask
    return adv, adv


@torch.no_grad()
def reinforce_pp_advantages(
    token_rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE++: discounted token-level returns, whitened over the batch's policy tokens.

    Returns carry through env tokens (mask 0) unchanged, so a reward after an observation still reaches
    the policy tokens before it. Returns `(advantages, returns)`.
    """
    returns = torch.zeros_like(token_rewards)
    running = torch.zeros_like(token_rewards[:, 0])
    m = mask.to(token_rewards.dtype)
    for t in range(token_rewards.shape[1] - 1, -1, -1):
        new = token_rewards[:, t] + gamma * running
        returns[:, t] = new * m[:, t]
        running = new * m[:, t] + running * (1 - m[:, t])
    adv = masked_whiten(returns, m) * m
    return adv, returns


@torch.no_grad()
def reinforce_pp_baseline_advantages(
    token_rewards: torch.Tensor, mask: torch.Tensor, group_index: torch.Tensor | Sequence[Hashable]
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE++ with a group baseline: score minus group mean, then whitened over the batch's tokens."""
    scores = token_rewards.sum(dim=-1)
    mean, _, _ = group_stats(scores, torch.as_tensor(as_group_index(group_index)))
    m = mask.to(token_rewards.dtype)
    centered = (scores - mean).unsqueeze(-1) * m
    adv = masked_whiten(centered, m) * m
    return adv, adv


@torch.no_grad()
def gae_advantages(
    token_rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 1.0,
    whiten: bool = True,
    truncated: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized Advantage Estimation over policy tokens; env tokens (mask 0) are skipped.

    The TD error and the value bootstrap jump over observation spans, so a multi-turn sequence is treated
    as one trajectory whose steps are the policy's tokens. Returns `(advantages, returns)`, with
    `returns = advantages + values` taken before whitening.

    `truncated` (B,) marks rows whose response was cut before it finished (T-PPO's windows): Extended GAE
    (Fan et al. 2025) bootstraps the missing state after the last token with the last value,
    `V(s_l) := V(s_{l-1})`, instead of 0 (the value of a finished episode's end).
    """
    m = mask.to(values.dtype)
    next_value = torch.zeros_like(values[:, 0])
    if truncated is not None:
        positions = torch.arange(values.shape[1], device=values.device).expand_as(m)
        last = torch.where(m > 0, positions, torch.full_like(positions, -1)).amax(dim=1)
        last_value = values.gather(1, last.clamp(min=0).unsqueeze(1)).squeeze(1)
        next_value = torch.where(truncated.bool() & (last >= 0), last_value, next_value)
    last_gae = torch.zeros_like(values[:, 0])
    out = torch.zeros_like(values)
    for t in range(values.shape[1] - 1, -1, -1):
        delta = token_rewards[:, t] + gamma * next_value - values[:, t]
        gae = delta + gamma * lam * last_gae
        next_value = values[:, t] * m[:, t] + (1 - m[:, t]) * next_value
        last_gae = gae * m[:, t] + (1 - m[:, t]) * last_gae
        out[:, t] = last_gae
    returns = out + values
    adv = masked_whiten(out, m) if whiten else out
    return adv, returns


@torch.no_grad()
def discounted_turn_returns(turn_rewards: torch.Tensor, turn_mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Discounted return of each turn, `G_k = r_k + gamma * G_{k+1}`, for per-turn rewards `(B, K)`.

    `turn_mask` is 1 for the turns a trajectory really has (rows are padded to the longest episode).
    """
    m = turn_mask.to(turn_rewards.dtype)
    out = torch.zeros_like(turn_rewards)
    running = torch.zeros_like(turn_rewards[:, 0])
    for k in range(turn_rewards.shape[1] - 1, -1, -1):
        running = (turn_rewards[:, k] + gamma * running) * m[:, k]
        out[:, k] = running
    return out


def turns_to_tokens(per_turn: torch.Tensor, turn_index: torch.Tensor) -> torch.Tensor:
    """Spread a `(B, K)` per-turn value onto tokens using the `(B, T)` turn index (-1 -> 0)."""
    safe = turn_index.clamp(min=0)
    return torch.gather(per_turn, 1, safe) * (turn_index >= 0).to(per_turn.dtype)


@torch.no_grad()
def turn_level_advantages(
    turn_rewards: torch.Tensor,
    turn_mask: torch.Tensor,
    turn_index: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable] | None = None,
    gamma: float = 1.0,
    eps: float = 1e-6,
    norm_by_std: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-turn credit: each turn's tokens get its discounted return, baselined within the task group.

    The baseline is the group mean (and optional unbiased std) of the returns of all real turns of the
    group's trajectories, so a turn is judged against what the group earned from a turn on average.
    Returns token-level `(advantages, returns)`.
    """
    returns = discounted_turn_returns(turn_rewards, turn_mask, gamma)
    m = turn_mask.to(returns.dtype)
    if group_index is None:
        group_index = torch.zeros(returns.shape[0], dtype=torch.long)
    gidx = as_group_index(group_index)
    flat_g = gidx.unsqueeze(-1).expand_as(returns)[m.bool()]
    flat_r = returns[m.bool()]
    mean, std, _ = group_stats(flat_r, flat_g)
    norm = (flat_r - mean) / (std + eps) if norm_by_std else flat_r - mean
    adv_turn = torch.zeros_like(returns)
    adv_turn[m.bool()] = norm
    return turns_to_tokens(adv_turn, turn_index), turns_to_tokens(returns, turn_index)

