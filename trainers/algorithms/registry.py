"""Advantage estimators and policy losses by name, registered the way verl's `core_algos` registers its own.

Config validation, `agentgym train` and the trainer's step all read these two tables, so a new estimator is
one function in one file::

    from agentgym.trainers.algorithms.registry import register_advantage

    @register_advantage("median_baseline", outcome=True, group_baseline=True)
    def median_baseline(batch, cfg):
        '''Score minus the group's median score.'''
        scores = batch.token_rewards.sum(-1)
        ...
        return adv, returns        # (B, T) each, zero off batch.loss_mask

after which `GRPOConfig(advantage="median_baseline")` and `--set advantage=median_baseline` work.

An estimator takes `(batch: TokenBatch, cfg: RLConfig)` and returns `(advantages, returns)`; the pure tensor
functions it calls live in `advantages.py`, `eapo.py`, `igpo.py`. `outcome=True` says the advantage is
constant over a row and comes from the episode's score: when an env resets the context (several rows per
episode) such an estimator is applied once per episode and its rows share the result. `group_baseline=True`
says it compares the samples of one task (a group of one has no signal). `requires` names what only a
particular trainer provides (a critic's values, probed turn rewards); config classes that provide it list the
estimator in `allowed_advantages`.

A policy loss takes `(logprobs, micro, cfg, counts)` and returns `(loss, metrics)`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from agentgym.trainers.algorithms import advantages as adv_fns
from agentgym.trainers.algorithms.eapo import eapo_advantages
from agentgym.trainers.algorithms.igpo import igpo_advantages, outcome_turn_mask
from agentgym.trainers.algorithms.losses import gspo_loss, ppo_clip_loss
from agentgym.trainers.algorithms.rexrag import rexrag_policy_loss

if TYPE_CHECKING:
    from agentgym.trainers.config import RLConfig
    from agentgym.trainers.data import TokenBatch

AdvantageFn = Callable[["TokenBatch", "RLConfig"], tuple[torch.Tensor, torch.Tensor]]
PolicyLossFn = Callable[[torch.Tensor, "TokenBatch", "RLConfig", dict[str, float]],
                        tuple[torch.Tensor, dict[str, torch.Tensor]]]


@dataclass(frozen=True)
class AdvantageEstimator:
    name: str
    fn: AdvantageFn
    outcome: bool = False
    group_baseline: bool = False
    requires: str = ""
    summary: str = ""


@dataclass(frozen=True)
class PolicyLoss:
    name: str
    fn: PolicyLossFn
    summary: str = ""


ADVANTAGE_ESTIMATORS: dict[str, AdvantageEstimator] = {}
POLICY_LOSSES: dict[str, PolicyLoss] = {}


def _summary(fn: Callable[..., Any]) -> str:
    return (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""


def register_advantage(name: str, *, outcome: bool = False, group_baseline: bool = False,
                       requires: str = "") -> Callable[[AdvantageFn], AdvantageFn]:
    """Register `fn(batch, cfg) -> (advantages, returns)` as the advantage estimator `name`."""
    def add(fn: AdvantageFn) -> AdvantageFn:
        if name in ADVANTAGE_ESTIMATORS:
            raise ValueError(f"advantage estimator {name!r} is already registered")
        ADVANTAGE_ESTIMATORS[name] = AdvantageEstimator(name, fn, outcome, group_baseline, requires, _summary(fn))
        return fn
    return add


def register_policy_loss(name: str) -> Callable[[PolicyLossFn], PolicyLossFn]:
    """Register `fn(logprobs, micro, cfg, counts) -> (loss, metrics)` as the policy loss `name`."""
    def add(fn: PolicyLossFn) -> PolicyLossFn:
        if name in POLICY_LOSSES:
            raise ValueError(f"policy loss {name!r} is already registered")
        POLICY_LOSSES[name] = PolicyLoss(name, fn, _summary(fn))
        return fn
    return add


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {what} {name!r}{hint} (registered: {', '.join(sorted(table))})")
    return table[name]


def get_advantage_estimator(name: str) -> AdvantageEstimator:
    return _lookup(ADVANTAGE_ESTIMATORS, name, "advantage estimator")


def get_policy_loss(name: str) -> PolicyLoss:
    return _lookup(POLICY_LOSSES, name, "policy loss")


def _episode_rows(batch: TokenBatch) -> tuple[TokenBatch, torch.Tensor]:
    """One one-token row per episode, carrying the episode's score (the sum of its rows' rewards) and its
    group (what outcome estimators read), and each original row's episode."""
    from agentgym.trainers.data import TokenBatch

    assert batch.episode_index is not None
    episodes = adv_fns.as_group_index(batch.episode_index)
    n = int(episodes.max()) + 1
    scores = torch.zeros(n).index_add_(0, episodes, batch.token_rewards.sum(dim=-1).float())[:, None]
    groups = torch.zeros(n, dtype=torch.long).index_copy_(0, episodes, adv_fns.as_group_index(batch.group_index))
    ones = torch.ones(n, 1, dtype=torch.long)
    rows = TokenBatch(input_ids=ones * 0, attention_mask=ones, loss_mask=ones, old_logprobs=torch.zeros(n, 1),
                      turn_index=ones * 0, token_rewards=scores, turn_rewards=scores, turn_mask=ones,
                      group_index=groups, truncated=torch.zeros(n, dtype=torch.bool), episode_index=torch.arange(n))
    return rows, episodes


def compute_advantages(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """`(advantages, returns)` of the configured estimator, zero off the loss mask.

    An outcome estimator sees one score per episode: when episodes span several rows (an env that resets
    the context), it runs on one row per episode and every row of an episode gets that episode's value,
    A_row = A(sum of the episode's rewards)[episode(row)].
    """
    est = get_advantage_estimator(cfg.advantage)
    episodes = batch.episode_index
    if est.outcome and episodes is not None and episodes.unique().numel() < len(batch):
        rows, of_row = _episode_rows(batch)
        adv, ret = est.fn(rows, cfg)
        mask = batch.loss_mask.float()
        return adv[of_row] * mask, ret[of_row] * mask
    return est.fn(batch, cfg)


# ---------------------------------------------------------------------------------------- built-ins


@register_advantage("grpo", outcome=True, group_baseline=True)
def _grpo(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO: (score - group mean) / (group std + eps)."""
    return adv_fns.grpo_advantages(batch.token_rewards, batch.loss_mask.float(), batch.group_index, eps=cfg.adv_eps)


@register_advantage("dr_grpo", outcome=True, group_baseline=True)
def _dr_grpo(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Dr.GRPO: score - group mean, no std scaling."""
    return adv_fns.dr_grpo_advantages(batch.token_rewards, batch.loss_mask.float(), batch.group_index)


@register_advantage("batch_std", outcome=True, group_baseline=True)
def _batch_std(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Lite PPO: group-mean baseline, batch-wide std."""
    return adv_fns.batch_std_advantages(batch.token_rewards, batch.loss_mask.float(), batch.group_index,
                                        eps=cfg.adv_eps)


@register_advantage("rloo", outcome=True, group_baseline=True)
def _rloo(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """RLOO: score minus the mean of the other samples of the task."""
    return adv_fns.rloo_advantages(batch.token_rewards, batch.loss_mask.float(), batch.group_index)


@register_advantage("reinforce_pp_baseline", outcome=True, group_baseline=True)
def _reinforce_pp_baseline(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE++ with a group-mean baseline, whitened over the batch."""
    return adv_fns.reinforce_pp_baseline_advantages(batch.token_rewards, batch.loss_mask.float(), batch.group_index)


@register_advantage("reinforce_pp")
def _reinforce_pp(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE++: discounted token returns, whitened over the batch."""
    return adv_fns.reinforce_pp_advantages(batch.token_rewards, batch.loss_mask.float(), cfg.gamma)


@register_advantage("turn", group_baseline=True)
def _turn(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn-level: group-normalized per-turn rewards, discounted returns over turns."""
    m = batch.loss_mask.float()
    adv, ret = adv_fns.turn_level_advantages(batch.turn_rewards, batch.turn_mask, batch.turn_index,
                                             batch.group_index, cfg.gamma, cfg.adv_eps)
    return adv * m, ret * m


@register_advantage("gae", requires="a critic's values (PPOTrainer)")
def _gae(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over the policy tokens with the values the critic gave before the update."""
    if batch.values is None:
        raise ValueError("advantage 'gae' needs the critic's values on the batch (PPOTrainer scores them)")
    m = batch.loss_mask.float()
    adv, ret = adv_fns.gae_advantages(batch.token_rewards, batch.values, m, cfg.gamma, getattr(cfg, "lam", 1.0),
                                      whiten=getattr(cfg, "whiten_advantages", True))
    return adv * m, ret * m


@register_advantage("eapo", requires="one row per round with its round reward (EAPOTrainer)")
def _eapo(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """EAPO: round rewards normalized per question over all rounds of its group."""
    return eapo_advantages(batch.scores, batch.group_index, batch.loss_mask.float(), cfg.adv_eps)


@register_advantage("igpo", group_baseline=True, requires="probed information-gain turn rewards (IGPOTrainer)")
def _igpo(batch: TokenBatch, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """IGPO: group-normalized information-gain and outcome turn rewards, discounted over turns."""
    return igpo_advantages(batch.turn_rewards, batch.turn_mask, batch.turn_index, batch.loss_mask.float(),
                           batch.group_index, outcome_turn_mask(batch.turn_mask), getattr(cfg, "norm", "joint"),
                           cfg.gamma, cfg.adv_eps)


@register_policy_loss("ppo")
def _ppo(logprobs: torch.Tensor, micro: TokenBatch, cfg: RLConfig,
         counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO clip with separate low/high ranges and dual clip."""
    assert micro.advantages is not None
    return ppo_clip_loss(logprobs, micro.old_logprobs, micro.advantages, micro.loss_mask, cfg.clip_low, cfg.clip_high,
                         cfg.dual_clip, cfg.loss_agg, **counts)


@register_policy_loss("gspo")
def _gspo(logprobs: torch.Tensor, micro: TokenBatch, cfg: RLConfig,
          counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """GSPO: sequence-level, length-normalized importance ratio and clipping."""
    assert micro.advantages is not None
    return gspo_loss(logprobs, micro.old_logprobs, micro.advantages, micro.loss_mask, cfg.clip_low, cfg.clip_high,
                     cfg.loss_agg, **counts)


@register_policy_loss("rexrag")
def _rexrag(logprobs: torch.Tensor, micro: TokenBatch, cfg: RLConfig,
            counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """REX-RAG: PPO clip with the ratio against the sampling mixture pi_mix, probe advantages weighted."""
    assert micro.advantages is not None
    mix = micro.extras.get("mix_logprobs", micro.old_logprobs)  # absent: PPO's ratio
    return rexrag_policy_loss(logprobs, mix, micro.advantages, micro.loss_mask, micro.extras.get("probe_weight"),
                              cfg.clip_low, cfg.clip_high, cfg.dual_clip, cfg.loss_agg, **counts)
