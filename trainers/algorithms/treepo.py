"""TreePO's tree advantage (Li et al. 2025, arXiv 2508.17445): leaves of a segment tree scored against every
subgroup of leaves that share a prefix of segments with them.

A task's rollouts form a tree: each segment of S tokens branches into children, and a leaf is one finished
response. A leaf's path is the node ids from the root (the task) down to its last segment. For every depth d
(d = 0: the task's whole tree) the leaves that share the first d+1 ids form a subgroup g_d, and

    A_leaf = sum_d |g_d| * (R_leaf - mean_{g_d} R) / sum_d |g_d|            (weighting="group_size")
    A_leaf = mean_d (R_leaf - mean_{g_d} R)                                 (weighting="mean")

over the depths whose subgroup holds more than the leaf itself (the root always counts; a root of one leaf
has baseline 0, as GRPO's group of one). `skip_constant=True` also drops subgroups whose rewards are all
equal (no signal). The per-leaf advantage is then whitened over the batch's policy tokens
(`tree_token_advantages`). This follows the paper's Eq. for the segment-tree advantage and the authors'
`compute_tree_reinforce_plus_plus_baseline_outcome_advantage` (group-size weighting is their default).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import torch
from agentgym.trainers.algorithms.masked import masked_whiten

WEIGHTINGS = ("group_size", "mean")


@torch.no_grad()
def tree_advantages(
    rewards: torch.Tensor,
    paths: Sequence[Sequence[Hashable]],
    *,
    weighting: str = "group_size",
    skip_constant: bool = False,
) -> torch.Tensor:
    """Per-leaf tree advantage (B,) from leaf rewards (B,) and each leaf's path of node ids (root first).

    Subgroups are the leaves sharing a strict prefix of the longest path's length minus one, so the deepest
    leaves are never compared with themselves alone.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if len(paths) != rewards.shape[0]:
        raise ValueError(f"{rewards.shape[0]} rewards but {len(paths)} paths")
    if any(len(p) == 0 for p in paths):
        raise ValueError("every leaf path needs at least its root id")
    r = rewards.to(torch.float64)
    depths = max(len(p) for p in paths) - 1 or 1
    terms: list[list[tuple[float, int]]] = [[] for _ in paths]  # per leaf: (R - subgroup mean, subgroup size)
    for d in range(depths):
        members: dict[tuple[Hashable, ...], list[int]] = defaultdict(list)
        for i, p in enumerate(paths):
            members[tuple(p[: d + 1])].append(i)
        for leaves in members.values():
            group = r[leaves]
            size = len(leaves)
            if d > 0 and (size < 2 or (skip_constant and bool((group == group[0]).all()))):
                continue
            baseline = group.mean() if size > 1 else torch.zeros((), dtype=r.dtype)
            for i in leaves:
                terms[i].append((float(r[i] - baseline), size))
    out = torch.empty_like(r)
    for i, leaf in enumerate(terms):
        if weighting == "group_size":
            out[i] = sum(a * n for a, n in leaf) / sum(n for _, n in leaf)
        else:
            out[i] = sum(a for a, _ in leaf) / len(leaf)
    return out.to(rewards.dtype)


@torch.no_grad()
def tree_token_advantages(
    rewards: torch.Tensor,
    paths: Sequence[Sequence[Hashable]],
    mask: torch.Tensor,
    *,
    weighting: str = "group_size",
    skip_constant: bool = False,
    rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """`tree_advantages` on every policy token of its row (mask (B, T)), whitened over the batch's tokens.

    `rows` (R,) maps each row of an (R, T) `mask` to its leaf, for leaves that span several rows (an env that
    resets the context): every row of a leaf gets the leaf's advantage, computed once per leaf,

        A_{row,t} = whiten_{policy tokens}(A_leaf(row)),

    so a leaf is not counted once per row in its subgroups' means. Without `rows` row i is leaf i.
    """
    per_leaf = tree_advantages(rewards, paths, weighting=weighting, skip_constant=skip_constant)
    if rows is not None:
        if rows.shape[0] != mask.shape[0]:
            raise ValueError(f"{mask.shape[0]} mask rows but {rows.shape[0]} row -> leaf indices")
        per_leaf = per_leaf[rows.long()]
    elif per_leaf.shape[0] != mask.shape[0]:
        raise ValueError(f"{per_leaf.shape[0]} leaves but {mask.shape[0]} mask rows (pass rows=)")
    m = mask.to(per_leaf.dtype)
    return masked_whiten(per_leaf.unsqueeze(1) * m, m) * m
