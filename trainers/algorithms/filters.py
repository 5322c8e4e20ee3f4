"""Batch filters and reward shaping applied between rollout and the loss.

- DAPO dynamic sampling: groups whose rewards are all equal carry no GRPO signal (zero advantage), so they
  are dropped and more groups are sampled until the batch is full, up to a cap on sampling rounds.
- DAPO overlong shaping: a soft penalty that grows linearly once the policy's own tokens pass a threshold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch
from agentgym.trainers.algorithms.advantages import as_group_index

T = TypeVar("T")


def informative_groups(
    rewards: torch.Tensor, group_index: torch.Tensor | Sequence[Hashable], tol: float = 0.0
) -> torch.Tensor:
    """Per-row bool: True when the row's group has rewards that are not all equal (spread > `tol`)."""
    idx = as_group_index(group_index)
    n = int(idx.max()) + 1 if idx.numel() else 0
    big = torch.full((n,), -torch.inf, dtype=rewards.dtype).scatter_reduce(0, idx, rewards, "amax")
    small = torch.full((n,), torch.inf, dtype=rewards.dtype).scatter_reduce(0, idx, rewards, "amin")
    return (big - small > tol)[idx]


def group_is_informative(rewards: Sequence[float], tol: float = 0.0) -> bool:
    """True when a group's rewards are not all equal."""
    return len(rewards) > 0 and max(rewards) - min(rewards) > tol


@dataclass
class DynamicSamplingResult(Generic[T]):
    """Groups kept by `dynamic_sampling` and how many sampling rounds and groups it took."""

    groups: list[list[T]]
    target_groups: int
    rounds: int
    sampled_groups: int
    dropped_groups: int

    @property
    def full(self) -> bool:
        """Whether the batch reached its target before the round cap."""
        return len(self.groups) >= self.target_groups


async def dynamic_sampling(
    sample_groups: Callable[[int], Awaitable[list[list[T]]]],
    reward_of: Callable[[T], float],
    target_groups: int,
    max_rounds: int = 3,
    tol: float = 0.0,
    global_count: Callable[[int], int] | None = None,
) -> DynamicSamplingResult[T]:
    """Sample groups until `target_groups` informative ones are kept or `max_rounds` rounds have run.

    Args:
        sample_groups: `await sample_groups(n)` returns `n` new groups (each a list of samples of one task).
        reward_of: a sample's scalar reward.
        target_groups: informative groups wanted.
        max_rounds: cap on calls to `sample_groups`; when it is reached the batch may be short (never empty
            of what was kept).
        tol: groups whose reward spread is at most `tol` count as constant.
        global_count: data parallel: the number of groups kept on all ranks from this rank's number (a sum
            over ranks); `sample_groups(n)` then asks for n groups in all, of which this rank plays its share.

    The first round asks for `target_groups` groups; later rounds ask for as many as are still missing.
    """
    kept: list[list[T]] = []
    sampled = dropped = rounds = 0
    count = global_count or (lambda n: n)
    while (total := count(len(kept))) < target_groups and rounds < max_rounds:
        want = target_groups - total
        groups = await sample_groups(want)
        rounds += 1
        sampled += len(groups)
        for g in groups:
            if group_is_informative([reward_of(x) for x in g], tol):
                kept.append(g)
            else:
                dropped += 1
    return DynamicSamplingResult(kept[:target_groups], target_groups, rounds, sampled, dropped)


def overlong_penalty(
    lengths: torch.Tensor, max_length: int, buffer_length: int, penalty: float = 1.0
) -> torch.Tensor:
    """DAPO soft overlong punishment for a trajectory with `lengths` policy tokens.

    0 up to `max_length - buffer_length`, then falls linearly to `-penalty` at `max_length`, and stays at
    `-penalty` beyond it. Add the result to the trajectory's reward.
    """
    if buffer_length <= 0:
        raise ValueError("buffer_length must be positive")
    expected = max_length - buffer_length
    excess = lengths.to(torch.float32) - expected
    return torch.clamp(-excess / buffer_length * penalty, min=-penalty, max=0.0)
