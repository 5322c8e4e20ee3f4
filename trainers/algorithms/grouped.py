"""Group normalization of any masked values (per-turn, per-round or per-sample rewards).

`grpo_advantages` normalizes one score per row. The IGPO, EAPO and HBPO estimators normalize a *set* of
values per task group: every real turn of every episode (IGPO), every round-sample (EAPO), a subgroup of
rows (HBPO). This module does that with the same statistics as `group_stats` (unbiased std, a lone value
passes through unchanged), plus a population-std switch for implementations that use it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch
from agentgym.trainers.algorithms.advantages import as_group_index, group_stats


@torch.no_grad()
def group_normalize(
    values: torch.Tensor,
    mask: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    eps: float = 1e-6,
    norm_by_std: bool = True,
    unbiased: bool = True,
    singleton: str = "pass",
) -> torch.Tensor:
    """`(v - group mean) / (group std + eps)` over the elements where `mask` is 1, zero elsewhere.

    Args:
        values: `(B,)` or `(B, K)` values; row `b` belongs to group `group_index[b]`, and all of its masked
            elements enter that group's statistics (so a `(B, K)` input pools all turns of all rows).
        mask: same shape as `values`; 1 where a value is real.
        group_index: `(B,)` group labels (task ids, uids or dense ints).
        eps: added to the std, so an all-equal group (std 0) gives 0 (up to float rounding, ~1e-11).
        norm_by_std: False gives mean-centering only (Dr.GRPO style).
        unbiased: Bessel-corrected std (GRPO / verl); False uses the population std.
        singleton: what a group with a single masked value gets: ``pass`` - mean 0 and std 1 as in
            `group_stats` (verl's convention: the value passes through, divided by `1 + eps`); ``zero`` -
            0, there being nothing to compare it with.
    """
    if singleton not in ("pass", "zero"):
        raise ValueError(f"singleton must be 'pass' or 'zero', got {singleton!r}")
    m = mask.bool()
    gidx = as_group_index(group_index)
    flat_g = gidx.view(-1, *([1] * (values.dim() - 1))).expand_as(values)[m]  # each element's row group
    flat_v = values[m].to(torch.float64)  # float64 statistics: no drift between equal values
    out = torch.zeros_like(values)
    if flat_v.numel() == 0:
        return out
    mean, std, count = group_stats(flat_v, flat_g)
    if not unbiased:
        std = torch.where(count > 1, std * torch.sqrt((count - 1).clamp(min=0) / count), std)
    norm = (flat_v - mean) / (std + eps) if norm_by_std else flat_v - mean
    if singleton == "zero":
        norm = torch.where(count == 1, torch.zeros_like(norm), norm)
    out[m] = norm.to(values.dtype)
    return out
