"""EAPO: efficiency-aware policy optimization (IterResearch, Chen et al. 2025, arXiv 2511.07327).

In IterResearch every round of an episode is generated from a freshly reconstructed workspace (question,
evolving report, last action and its result), so every round is its own training sample. EAPO:

- rewards round `t` of a trajectory that ended after `T` rounds with terminal success `R_T` by
  `r_t = gamma^(T - t) * R_T` (geometric discounting: a shorter successful trajectory earns more per round);
- normalizes advantages per question over all round-samples of all trajectories in its group;
- optimizes with GSPO's sequence-level ratio and clipping: use
  `agentgym.trainers.algorithms.losses.gspo_loss` on the round-samples (not duplicated here);
- downsamples the variable number of round-samples to a multiple of the data-parallel size.

Functions work on flat `(N,)` tensors, one entry per round-sample.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch
from agentgym.trainers.algorithms.grouped import group_normalize

EAPO_GAMMA = 0.99


def eapo_round_rewards(
    round_index: torch.Tensor,
    num_rounds: torch.Tensor,
    terminal_reward: torch.Tensor,
    gamma: float = EAPO_GAMMA,
) -> torch.Tensor:
    """Round rewards `r_t = gamma^(T - t) * R_T` for round-samples.

    Args:
        round_index: `(N,)` round `t` of each sample, 1-based (`1..T`).
        num_rounds: `(N,)` number of rounds `T` of the trajectory the sample came from.
        terminal_reward: `(N,)` the trajectory's terminal success `R_T` (0/1 or a graded score).
        gamma: discount in (0, 1]; 1 gives every round the terminal reward (plain GRPO on rounds). The
            paper's value was not recoverable here; 0.99 is an assumption.

    A trajectory that never answers (hit the round limit) has `R_T = 0`, so all its rounds get 0.
    """
    t = round_index.to(torch.float64)
    big_t = num_rounds.to(torch.float64)
    if bool(((t < 1) | (t > big_t)).any()):
        raise ValueError("round_index must lie in 1..num_rounds")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    return (gamma ** (big_t - t) * terminal_reward.to(torch.float64)).to(torch.float32)


def eapo_advantages(
    round_rewards: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    mask: torch.Tensor | None = None,
    eps: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages `(r - mean) / (std + eps)` per question over all round-samples of its group.

    Args:
        round_rewards: `(N,)` from `eapo_round_rewards`.
        group_index: `(N,)` the question each round-sample answers (all rounds of all trajectories of one
            question share a label).
        mask: optional `(N, T)` policy-token mask; with it the advantages are broadcast to tokens.
        eps: std guard: a group whose rewards are all equal (all failed, or all succeeded in the same
            number of rounds) gets 0.

    Returns:
        `(advantages, returns)`: `(N,)`, or `(N, T)` when `mask` is given; `returns` are the round rewards.
        A group with a single round-sample passes its reward through unchanged (verl's convention).
    """
    adv = group_normalize(round_rewards, torch.ones_like(round_rewards, dtype=torch.bool), group_index, eps=eps)
    if mask is None:
        return adv, round_rewards
    m = mask.to(adv.dtype)
    return adv.unsqueeze(-1) * m, round_rewards.unsqueeze(-1).to(adv.dtype) * m


def downsample_rounds(
    n_samples: int,
    multiple: int,
    rng: torch.Generator | int | None = None,
) -> torch.Tensor:
    """Indices of the round-samples kept so that their number is a multiple of the data-parallel size.

    Rule (the paper's "adaptive downsampling"): keep `floor(N / multiple) * multiple` samples, chosen
    uniformly at random without replacement, so each data-parallel rank gets the same number of samples
    while at most `multiple - 1` are dropped. Compute advantages on the full set first, then downsample,
    so dropped samples do not move the group baselines.

    Args:
        n_samples: N, the number of round-samples collected this step.
        multiple: the data-parallel size (or DP size x micro-batch size).
        rng: a `torch.Generator`, or an int seed, for reproducible choices; None uses a fresh generator
            seeded with 0 (deterministic).

    Returns:
        Sorted LongTensor of kept indices (empty when `N < multiple`: the caller should collect more).
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    keep = (n_samples // multiple) * multiple
    if keep == n_samples:
        return torch.arange(n_samples, dtype=torch.long)
    gen = rng if isinstance(rng, torch.Generator) else torch.Generator().manual_seed(0 if rng is None else rng)
    return torch.randperm(n_samples, generator=gen)[:keep].sort().values
