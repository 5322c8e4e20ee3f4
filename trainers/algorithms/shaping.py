"""Reward and advantage shapers usable with any trainer.

- **APO** (A^2FM, Chen et al. 2025, arXiv 2510.12838): a cost-regularized adaptive-mode reward over three
  execution modes (instant / reasoning / agentic) and a rollout plan of forced and adaptive rollouts.
- **HBPO** (Lyu et al. 2025, arXiv 2507.15844): hierarchical token budgets - subgroups of a group's
  rollouts get different budgets stated in the prompt, a cosine budget reward, and an advantage that sums
  an intra-subgroup and an inter-subgroup term.
- **ASPO** ("Understanding Tool-Integrated Reasoning", Lin & Xu 2025, arXiv 2508.19201): advantage shaping
  that rewards correct responses for calling a tool early.

The papers' full texts were not reachable from here; where a detail is not in the issue's statement of
the formula, the docstring says what was assumed, and the assumption is a parameter.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import torch
from agentgym.trainers.algorithms.advantages import as_group_index, group_stats
from agentgym.trainers.algorithms.grouped import group_normalize

# --------------------------------------------------------------------------------------------- APO

APO_MODES = ("instant", "reasoning", "agentic")


def plan_apo_rollouts(
    forced_per_mode: int, adaptive: int, modes: Sequence[str] = APO_MODES
) -> list[str | None]:
    """The rollouts of one prompt: `forced_per_mode` rollouts forced into each mode, then `adaptive` free ones.

    Returns one entry per rollout: the mode to force (the trainer prefixes the mode's route tag) or None
    for an adaptive rollout in which the policy picks its mode. Forced rollouts guarantee that every mode,
    the instant one in particular, is sampled for every prompt, which is what `instant_accuracy` needs.
    """
    if forced_per_mode < 0 or adaptive < 0:
        raise ValueError("rollout counts must be >= 0")
    plan: list[str | None] = [m for m in modes for _ in range(forced_per_mode)]
    return plan + [None] * adaptive


def instant_accuracy(
    modes: Sequence[str], accuracy: torch.Tensor, group_index: torch.Tensor | Sequence[Hashable]
) -> torch.Tensor:
    """Per-row `p`: the mean accuracy of the instant-mode rollouts of the row's group (0 if it has none).

    All instant rollouts count, forced or chosen.
    """
    gidx = as_group_index(group_index)
    n = int(gidx.max()) + 1 if gidx.numel() else 0
    inst = torch.tensor([m == "instant" for m in modes], dtype=accuracy.dtype)
    hits = torch.zeros(n, dtype=accuracy.dtype).index_add_(0, gidx, accuracy * inst)
    count = torch.zeros(n, dtype=accuracy.dtype).index_add_(0, gidx, inst)
    return (hits / count.clamp(min=1))[gidx]


def apo_rewards(
    modes: Sequence[str],
    accuracy: torch.Tensor,
    format_ok: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    alpha: float = 1.0,
    easy_threshold: float = 0.0,
) -> torch.Tensor:
    """APO's cost-regularized reward `r = r_acc * r_adaptive * r_format` per rollout.

    `r_adaptive = 1 - p^alpha` for a non-instant rollout of an easy query and 1 otherwise, where `p` is
    the query's instant-mode accuracy (`instant_accuracy`) and the query is easy when `p > easy_threshold`.
    A query the instant mode solves every time (`p = 1`) gives reasoning/agentic answers 0 reward even
    when correct; one it never solves (`p = 0`) leaves them unpenalized.

    Args:
        modes: the mode each rollout used (forced or chosen).
        accuracy: `(B,)` r_acc in [0, 1] (a judge's 0/1 or a score).
        format_ok: `(B,)` r_format, 1 when the mode's output format is valid.
        group_index: `(B,)` which prompt each rollout answers.
        alpha: sharpness of the penalty (assumption: 1; larger alpha penalizes less).
        easy_threshold: the query is easy when `p` exceeds it (assumption: 0, any instant success).
    """
    if len(modes) != accuracy.shape[0]:
        raise ValueError("modes and accuracy have different lengths")
    unknown = set(modes) - set(APO_MODES)
    if unknown:
        raise ValueError(f"unknown modes {sorted(unknown)}; choose from {APO_MODES}")
    p = instant_accuracy(modes, accuracy, group_index)
    non_instant = torch.tensor([m != "instant" for m in modes])
    penalized = non_instant & (p > easy_threshold)
    r_adaptive = torch.where(penalized, 1.0 - p**alpha, torch.ones_like(p))
    return accuracy * r_adaptive * format_ok.to(accuracy.dtype)


# -------------------------------------------------------------------------------------------- HBPO

HBPO_BUDGETS = (512, 1024, 2048, 2560)
HBPO_BUDGET_TEMPLATE = "I will answer the question within {budget} tokens."


def budget_prompt(budget: int, template: str = HBPO_BUDGET_TEMPLATE) -> str:
    """The budget statement injected into a rollout's prompt (append it to the user turn or the start of
    the reasoning), e.g. "I will answer the question within 512 tokens."."""
    return template.format(budget=int(budget))


def assign_budgets(group_size: int, budgets: Sequence[int] = HBPO_BUDGETS) -> list[int]:
    """Budgets for the rollouts of one group: equal consecutive subgroups, one per budget.

    `group_size = 8` with four budgets gives `[512, 512, 1024, 1024, 2048, 2048, 2560, 2560]`; a
    remainder goes to the smallest budgets first.
    """
    if not budgets:
        raise ValueError("budgets must not be empty")
    base, extra = divmod(group_size, len(budgets))
    out: list[int] = []
    for i, b in enumerate(budgets):
        out += [int(b)] * (base + (i < extra))
    return out


def hbpo_rewards(
    lengths: torch.Tensor,
    correct: torch.Tensor,
    budgets: torch.Tensor,
    max_length: int = 4096,
    beta: float = 1.0,
    alpha: float = 1e-3,
    wrong_reward: float = 0.0,
) -> torch.Tensor:
    """HBPO's budget-aware cosine reward per rollout.

    For a correct response of `n` tokens in a subgroup with budget `b`:

    - `n <= b`: `beta * cos(pi * n / (2 * L_max))` - the classic cosine length reward (shorter is
      better, gently);
    - `n > b`: `beta * cos(pi * b / (2 * L_max)) - alpha * (n - b)` - the value at the budget minus a
      linear deviation penalty for every token past it.

    Incorrect responses get `wrong_reward`. The two branches meet at `n = b`.

    Assumptions (paper text unavailable here): the piecewise shape above, `L_max = max_length = 4096`,
    `beta = 1`, `alpha = 1e-3` per token over budget, `wrong_reward = 0`.
    """
    n = lengths.to(torch.float64)
    b = budgets.to(torch.float64)
    within = beta * torch.cos(math.pi * n / (2 * max_length))
    at_budget = beta * torch.cos(math.pi * b / (2 * max_length))
    over = at_budget - alpha * (n - b)
    r = torch.where(n <= b, within, over)
    return torch.where(correct.bool(), r, torch.full_like(r, wrong_reward)).to(torch.float32)


def _group_mean(values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Per-row mean of `values` over the row's group (float64)."""
    n = int(idx.max()) + 1
    total = torch.zeros(n, dtype=torch.float64).index_add_(0, idx, values.to(torch.float64))
    return (total / torch.bincount(idx, minlength=n).to(torch.float64))[idx]


def hbpo_advantages(
    rewards: torch.Tensor,
    budgets: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    eps: float = 1e-6,
    inter: str = "global",
) -> torch.Tensor:
    """HBPO advantage `A = A_intra + A_inter` per rollout `(B,)`.

    - `A_intra = (r - mean_b) / (std_b + eps)`: against the rollouts of the same budget subgroup (same
      query, same budget) - how well the rollout used its budget;
    - `A_inter`: against the whole group (all budgets of the query) - which budget suits the query.
      ``global`` (default): `(r - mean) / (std + eps)`; ``subgroup_mean``: `(mean_b - mean) / (std + eps)`,
      the subgroup's mean compared across budgets.

    Both variants read the paper's "intra-subgroup + inter-subgroup"; which of the two inter terms the
    paper uses was not recoverable here, so it is a switch. A subgroup of one rollout has no intra term
    (0); the group terms follow `group_normalize` (a group of one passes through).
    """
    gidx = as_group_index(group_index)
    sub = as_group_index([(int(g), int(b)) for g, b in zip(gidx.tolist(), budgets.tolist(), strict=True)])
    every = torch.ones_like(rewards, dtype=torch.bool)
    intra = group_normalize(rewards, every, sub, eps=eps, singleton="zero")
    if inter == "global":
        return intra + group_normalize(rewards, every, gidx, eps=eps)
    if inter == "subgroup_mean":
        mean_g = _group_mean(rewards, gidx)
        _, std_g, _ = group_stats(rewards.to(torch.float64), gidx)
        return intra + ((_group_mean(rewards, sub) - mean_g) / (std_g + eps)).to(rewards.dtype)
    raise ValueError(f"unknown inter-subgroup term {inter!r}; choose 'global' or 'subgroup_mean'")


# -------------------------------------------------------------------------------------------- ASPO


def aspo_advantages(
    advantages: torch.Tensor,
    correct: torch.Tensor,
    first_call: torch.Tensor,
    lengths: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    delta: float = -2.0,
    k: float = 0.7,
) -> torch.Tensor:
    """ASPO: shift the advantage of correct responses toward early tool calls.

    For a correct response `i` that calls a tool:
    `A_i' = A_i + clip(delta * (p_i - mean p) / mean L, -k * |A_i|, +k * |A_i|)`,
    where `p_i` is the token position of its first tool call, `L` the response length, and the means
    run over the correct tool-calling responses of the same group. With `delta < 0` an earlier-than-average
    call raises the advantage. The clip keeps the shaping below `k` times the correctness advantage, so a
    correct response stays ahead of incorrect ones; an advantage of 0 (all responses of the group correct)
    receives no shaping.

    Args:
        advantages: `(B,)` sequence-level advantages (e.g. GRPO's, one per response).
        correct: `(B,)` bool.
        first_call: `(B,)` position of the first tool call in response tokens, -1 when there is none.
        lengths: `(B,)` response lengths in tokens.
        group_index: `(B,)` prompt groups.
        delta, k: the paper's -2.0 and 0.7.

    Incorrect responses, and correct responses without a tool call, are unchanged (assumption: they are
    left out of the means as well, since they have no call position).
    """
    gidx = as_group_index(group_index)
    sel = correct.bool() & (first_call >= 0)
    out = advantages.clone()
    if not bool(sel.any()):
        return out
    n = int(gidx.max()) + 1
    w = sel.to(torch.float64)
    count = torch.zeros(n, dtype=torch.float64).index_add_(0, gidx, w)
    mean_p = torch.zeros(n, dtype=torch.float64).index_add_(0, gidx, first_call.to(torch.float64) * w) / count.clamp(min=1)
    mean_len = torch.zeros(n, dtype=torch.float64).index_add_(0, gidx, lengths.to(torch.float64) * w) / count.clamp(min=1)
    shift = delta * (first_call.to(torch.float64) - mean_p[gidx]) / mean_len[gidx].clamp(min=1)
    bound = k * advantages.to(torch.float64).abs()
    shift = torch.maximum(torch.minimum(shift, bound), -bound)
    out[sel] = (advantages.to(torch.float64) + shift)[sel].to(advantages.dtype)
    return out
