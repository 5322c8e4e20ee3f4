"""IGPO: information-gain policy optimization (Wang et al. 2025, arXiv 2510.14967).

Each turn of a multi-turn episode is rewarded by how much it raised the policy's belief in the gold
answer; the final turn is rewarded by the outcome. The pieces, as pure functions over padded per-turn
tensors `(episodes, turns)` with a turn mask:

1. `information_gain_rewards` - after every turn `t` (and before the first, `t = 0`) the gold answer is
   teacher-forced and scored, `p_t = exp(mean log-prob of the answer tokens)` (`igpo_probe` computes the
   log-probs); the gain of turn `t` is `r_t = p_t - p_{t-1}` (paper Eq. 4, ``prob_diff``) or the difference
   of the mean log-probs (``log_prob_diff``).
2. `igpo_outcome_score` / `igpo_turn_rewards` - the final turn gets the outcome instead: token-F1 (or EM)
   against the gold aliases, or -2 when the format is broken or no answer was given (released code).
3. `igpo_normalize` - group normalization of the turn rewards: ``joint`` pools every real turn of every
   episode in the group (paper Eq. 6); ``separate`` normalizes information gains and outcomes apart
   (released code's `info_gain_norm_mode=separate`).
4. `igpo_turn_advantages` / `igpo_advantages` - discounted accumulation `A_t = sum_{k>=t} gamma^(k-t) Â_k`
   (paper Eq. 7) and its broadcast to every policy token of turn `t`.

Turn boundaries are explicit (the turn mask and the token-level `turn_index` of `TokenBatch`), never
inferred from where a reward is non-zero: a turn whose gain is exactly 0 keeps its own advantage.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import torch
from agentgym.trainers.algorithms.advantages import discounted_turn_returns, turns_to_tokens
from agentgym.trainers.algorithms.grouped import group_normalize

IG_MODES = ("prob_diff", "log_prob_diff")
IGPO_NORM_MODES = ("joint", "separate")
FORMAT_PENALTY = -2.0


def information_gain_rewards(
    answer_logprobs: torch.Tensor,
    probe_mask: torch.Tensor | None = None,
    mode: str = "prob_diff",
) -> torch.Tensor:
    """Per-turn information gain from the gold answer's mean log-prob after each turn.

    Args:
        answer_logprobs: `(E, K + 1)`; column `t` is the mean log-prob of the gold answer tokens given the
            conversation after `t` turns (column 0: the prompt alone).
        probe_mask: `(E, K + 1)`, 1 where a probe was computed. The gain of turn `k` (0-based) is defined
            only when columns `k` and `k + 1` are both real; it is 0 elsewhere (padding, or the final
            turn when its probe was skipped because the outcome replaces it).
        mode: ``prob_diff`` (paper default): `exp(lp[:, k+1]) - exp(lp[:, k])`; ``log_prob_diff``:
            `lp[:, k+1] - lp[:, k]`.

    Returns:
        `(E, K)` gains; column `k` belongs to turn `k`.
    """
    if mode == "prob_diff":
        belief = torch.exp(answer_logprobs)
    elif mode == "log_prob_diff":
        belief = answer_logprobs
    else:
        raise ValueError(f"unknown information-gain mode {mode!r}; choose from {IG_MODES}")
    gain = belief[:, 1:] - belief[:, :-1]
    if probe_mask is not None:
        pm = probe_mask.bool()
        gain = torch.where(pm[:, 1:] & pm[:, :-1], gain, torch.zeros_like(gain))  # -inf - -inf stays out
    return gain


def igpo_outcome_score(
    prediction: str | None,
    golds: str | Iterable[str],
    metric: str = "f1",
    format_ok: bool = True,
    format_penalty: float = FORMAT_PENALTY,
) -> float:
    """The final turn's reward: token-F1 (or exact match) against the best gold alias, or the penalty.

    `prediction` is the extracted answer text; None (the episode never answered) or `format_ok=False`
    gives `format_penalty` (-2, as in the released code). Scoring uses SQuAD normalization
    (`agentgym.envs.search.metrics`: lowercase, no punctuation or articles) and bag-of-tokens F1; the
    released code uses token *sets* and keeps articles, which differs only on repeated tokens and a/an/the.
    """
    if prediction is None or not format_ok:
        return float(format_penalty)
    from agentgym.envs.search.metrics import exact_match, f1_score  # lazy: keeps the algorithms import light

    aliases = [golds] if isinstance(golds, str) else list(golds)
    if metric == "f1":
        return f1_score(prediction, aliases)
    if metric == "em":
        return exact_match(prediction, aliases)
    raise ValueError(f"unknown outcome metric {metric!r}; choose 'f1' or 'em'")


def _last_turn(turn_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of each row's last real turn and whether the row has any turn."""
    m = turn_mask.bool()
    cols = torch.arange(m.shape[1], device=m.device).expand_as(m)
    last = torch.where(m, cols, torch.full_like(cols, -1)).max(dim=1).values
    return last.clamp(min=0), last >= 0


def outcome_turn_mask(turn_mask: torch.Tensor) -> torch.Tensor:
    """`(E, K)` bool: the turn holding each episode's outcome reward, its last real turn."""
    m = turn_mask.bool()
    last, has_turn = _last_turn(m)
    out = torch.zeros_like(m)
    out[torch.arange(m.shape[0], device=m.device), last] = has_turn
    return out


def igpo_turn_rewards(
    info_gain: torch.Tensor,
    turn_mask: torch.Tensor,
    outcome: torch.Tensor,
    answered: torch.Tensor | None = None,
    format_penalty: float = FORMAT_PENALTY,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Assemble the per-turn reward matrix: information gain on non-final turns, outcome on the final one.

    Args:
        info_gain: `(E, K)` gains from `information_gain_rewards`, or `(E, K - 1)` when only the
            boundaries before each turn were probed (`probe_episodes` on `turn_boundary_contexts`): the
            final turn's gain is never used.
        turn_mask: `(E, K)`, 1 on the turns an episode really has.
        outcome: `(E,)` outcome scores of the final turn (e.g. `igpo_outcome_score`).
        answered: `(E,)` bool; False for episodes that never gave an answer (ran out of turns, were cut
            at the maximum length, or broke the format). Their last real turn gets `format_penalty`
            instead of `outcome` - and instead of its own information gain, as in the released code, so a
            truncated episode is never rewarded for a final turn that did not answer. None: all answered.
        format_penalty: reward of the final turn of an unanswered episode (-2).

    Returns:
        `(turn_rewards, outcome_mask)`: `(E, K)` rewards (0 on padding) and the bool mask of the turn that
        holds the outcome (one per episode with at least one turn). Pass `outcome_mask` to
        `igpo_normalize(mode="separate")`.
    """
    m = turn_mask.bool()
    if info_gain.shape[1] == m.shape[1] - 1:  # the final boundary was not probed: its turn is the outcome
        info_gain = torch.nn.functional.pad(info_gain, (0, 1))
    if info_gain.shape != m.shape:
        raise ValueError(f"info_gain {tuple(info_gain.shape)} does not fit turn_mask {tuple(m.shape)}")
    outcome_mask = outcome_turn_mask(m)
    final = outcome.to(info_gain.dtype)
    if answered is not None:
        final = torch.where(answered.bool(), final, torch.full_like(final, format_penalty))
    rewards = torch.where(m, info_gain, torch.zeros_like(info_gain))
    rewards = torch.where(outcome_mask, final.unsqueeze(-1).expand_as(rewards), rewards)
    return rewards, outcome_mask


def igpo_normalize(
    turn_rewards: torch.Tensor,
    turn_mask: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    outcome_mask: torch.Tensor | None = None,
    mode: str = "joint",
    eps: float = 1e-6,
    unbiased: bool = True,
    norm_by_std: bool = True,
    singleton: str = "zero",
) -> torch.Tensor:
    """Group-normalize turn rewards `Â = (r - mean) / (std + eps)` within each task group.

    ``joint`` (paper): the statistics pool every real turn of every episode of the group. ``separate``
    (released code): information-gain turns and outcome turns are normalized as two populations, so the
    many small gains do not shrink the outcome's scale (needs `outcome_mask`).

    Edge cases: padded turns stay 0; an all-equal population (std 0) gives 0 (up to float error); a
    population of one value (a group of one episode with one turn, or its lone outcome in ``separate``
    mode) gives 0 by default, as in the released code (`singleton="pass"`: verl's pass-through instead).
    `unbiased=False` uses the population std of the released code; the paper writes only "std", so the
    default is the unbiased std of the repo's GRPO.
    """
    m = turn_mask.bool()
    kw = {"eps": eps, "unbiased": unbiased, "norm_by_std": norm_by_std, "singleton": singleton}
    if mode == "joint":
        return group_normalize(turn_rewards, m, group_index, **kw)
    if mode == "separate":
        if outcome_mask is None:
            raise ValueError("separate normalization needs outcome_mask (from igpo_turn_rewards)")
        om = outcome_mask.bool() & m
        gains = group_normalize(turn_rewards, m & ~om, group_index, **kw)
        outcomes = group_normalize(turn_rewards, om, group_index, **kw)
        return gains + outcomes  # disjoint masks: each is 0 where the other is defined
    raise ValueError(f"unknown IGPO normalization {mode!r}; choose from {IGPO_NORM_MODES}")


def igpo_turn_advantages(
    turn_rewards: torch.Tensor,
    turn_mask: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    outcome_mask: torch.Tensor | None = None,
    norm: str = "joint",
    gamma: float = 1.0,
    eps: float = 1e-6,
    unbiased: bool = True,
    singleton: str = "zero",
) -> torch.Tensor:
    """Per-turn IGPO advantages `(E, K)`: `A_t = sum_{k >= t} gamma^(k - t) Â_k` over the normalized rewards.

    The accumulation runs over turns (`discounted_turn_returns`), so each turn keeps its own value
    whatever its reward - a zero information gain does not merge a turn into its neighbour.
    """
    normalized = igpo_normalize(turn_rewards, turn_mask, group_index, outcome_mask, mode=norm, eps=eps,
                                unbiased=unbiased, singleton=singleton)
    return discounted_turn_returns(normalized, turn_mask, gamma)


def igpo_advantages(
    turn_rewards: torch.Tensor,
    turn_mask: torch.Tensor,
    turn_index: torch.Tensor,
    loss_mask: torch.Tensor,
    group_index: torch.Tensor | Sequence[Hashable],
    outcome_mask: torch.Tensor | None = None,
    norm: str = "joint",
    gamma: float = 1.0,
    eps: float = 1e-6,
    unbiased: bool = True,
    singleton: str = "zero",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-level IGPO advantages: each turn's `A_t` on every policy token of that turn.

    Args:
        turn_rewards: `(E, K)` from `igpo_turn_rewards`.
        turn_mask: `(E, K)` real turns.
        turn_index: `(E, T)` token-level turn index (`TokenBatch.turn_index`: `k` on the tokens the policy
            generated in turn `k`, -1 elsewhere).
        loss_mask: `(E, T)` policy-token mask; tool/observation and padding tokens get 0.
        group_index: `(E,)` task group of each episode.
        outcome_mask, norm, gamma, eps, unbiased, singleton: see `igpo_normalize` / `igpo_turn_advantages`.

    Returns:
        `(advantages, returns)`, both `(E, T)`: the broadcast advantages, and the discounted returns of
        the raw turn rewards broadcast the same way (for logging).
    """
    adv_turn = igpo_turn_advantages(turn_rewards, turn_mask, group_index, outcome_mask, norm, gamma, eps,
                                    unbiased, singleton)
    m = loss_mask.to(adv_turn.dtype)
    returns = discounted_turn_returns(turn_rewards, turn_mask, gamma)
    return turns_to_tokens(adv_turn, turn_index) * m, turns_to_tokens(returns, turn_index) * m
