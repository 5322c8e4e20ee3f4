"""`IGPOTrainer`: information-gain policy optimization (arXiv 2510.14967) for multi-turn search agents.

Every turn is rewarded by how much it raised the policy's own belief in the gold answer; the final turn
by the outcome. One step, read top to bottom:

    rollout   groups of episodes (MultiHopQA-v0 or any env that puts the gold answers in
              `info["gold_answers"]`)
    probe     for every episode and every turn boundary t = 0..K-1, teacher-force an "answer now" prefix
              and the gold answer after the context c_t and score only the answer tokens with the
              current policy: p_t = exp(mean log-prob). All probes of the batch run as batched forward
              passes (`igpo_probe.probe_episodes`).
    rewards   r_t = p_t - p_{t-1} ("prob_diff", paper) or the log-prob difference ("log_prob_diff") on
              turns before the last; the last turn gets token-F1 (or EM) of the answer, or -2 when the
              episode never answered or broke the format
    advantage normalize all turn rewards of a group jointly (paper) or gains and outcomes separately
              (released code); A_t = sum_{k>=t} gamma^(k-t) Â_k on every policy token of turn t (turn
              boundaries from the token view, never from where rewards are non-zero; tool tokens masked)
    loss      PPO clip, token-mean (the `RLTrainer` loop)

Start it in five lines::

    from agentgym.trainers import IGPOConfig, IGPOTrainer
    trainer = IGPOTrainer("smollm2", "MultiHopQA-v0", env_kwargs={"hops": 2}, config=IGPOConfig(steps=40))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from agentgym.trainers.algorithms.igpo import (
    FORMAT_PENALTY,
    IG_MODES,
    IGPO_NORM_MODES,
    igpo_outcome_score,
    igpo_turn_rewards,
    information_gain_rewards,
)
from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import RLConfig
from agentgym.trainers.data import TokenBatch
from agentgym.trainers.igpo_probe import (
    ANSWER_NOW,
    answer_prefix_ids,
    generation_prompt_ids,
    probe_episodes,
    turn_boundary_contexts,
)

from agentgym.trajectory import Trajectory


@dataclass
class IGPOConfig(RLConfig):
    """IGPO's settings (paper defaults): `ig_mode` "prob_diff", `norm` "joint" ("separate": the released
    code), `outcome_metric` "f1" (or "em"), `format_penalty` -2, discount `gamma` over turns,
    `probe_batch_size` sequences per probing forward pass, `probe_instruction` the "answer now" text.

    `advantage` is fixed to IGPO's turn-level estimator; the rest (clip, aggregation, KL ...) is
    `RLConfig`'s.
    """

    allowed_advantages: ClassVar[tuple[str, ...]] = ("igpo",)
    advantage: str = "igpo"
    ig_mode: str = "prob_diff"
    norm: str = "joint"
    outcome_metric: str = "f1"
    format_penalty: float = FORMAT_PENALTY
    probe_batch_size: int = 16
    probe_instruction: str = ANSWER_NOW
    alias_reduce: str = "max"

    def validate(self) -> None:
        super().validate()
        self._choice("ig_mode", IG_MODES)
        self._choice("norm", IGPO_NORM_MODES)
        self._choice("outcome_metric", ("f1", "em"))
        self._choice("alias_reduce", ("max", "first"))
        if self.probe_batch_size < 1:
            self._fail("probe_batch_size", "must be >= 1")


def gold_answers_of(traj: Trajectory) -> list[str]:
    """The gold answer aliases the env gave trainers (`info["gold_answers"]`, else `info["gold"]`)."""
    gold: Any = traj.info.get("gold_answers") or traj.info.get("gold")
    if gold is None or gold == []:
        raise ValueError(f"episode {traj.episode_id}: the env gave no gold answer in info['gold_answers']; "
                         "IGPO's probe needs it")
    return [str(g) for g in gold] if isinstance(gold, (list, tuple)) else [str(gold)]


def answered(traj: Trajectory) -> bool:
    """Whether the episode ended with an answer in a valid format (else its last turn gets the penalty)."""
    if traj.answer is None or traj.truncated or not traj.terminated:
        return False
    return bool(traj.info.get("format_ok", True))


class IGPOTrainer(RLTrainer):
    """IGPO on a multi-turn env with gold answers in `info`; see the module docstring."""

    config_class: ClassVar[type[RLConfig]] = IGPOConfig
    name: ClassVar[str] = "igpo"
    config: IGPOConfig

    def build_batch(self, trajectories: Sequence[Trajectory]) -> TokenBatch:
        """The token view, with IGPO's per-turn rewards (probed with the pre-update policy) in
        `turn_rewards` and the outcome turn marked in `extras["outcome_mask"]`."""
        batch = super().build_batch(trajectories)
        cfg = self.config
        golds = [gold_answers_of(t) for t in trajectories]
        gains = self.information_gains(batch, trajectories, golds)
        outcome = torch.tensor([igpo_outcome_score(t.answer if t.answer is None else str(t.answer), g,
                                                   cfg.outcome_metric, format_ok=True,
                                                   format_penalty=cfg.format_penalty)
                                for t, g in zip(trajectories, golds, strict=True)])
        done = torch.tensor([answered(t) for t in trajectories])
        rewards, outcome_mask = igpo_turn_rewards(gains, batch.turn_mask, outcome, done, cfg.format_penalty)
        batch.turn_rewards = rewards * batch.turn_mask
        batch.extras["outcome_mask"] = outcome_mask
        batch.extras["info_gain"] = gains
        return batch

    @torch.no_grad()
    def information_gains(self, batch: TokenBatch, trajectories: Sequence[Trajectory],
                          golds: Sequence[Sequence[str]]) -> torch.Tensor:
        """`(E, K-1)` information gains of every turn but the last, from one batched probe of all boundaries."""
        cfg = self.config
        suffix = generation_prompt_ids(self.tokenizer)
        prefix = answer_prefix_ids(self.tokenizer, cfg.probe_instruction)
        contexts = [turn_boundary_contexts(batch.input_ids[i], batch.turn_index[i],
                                           num_turns=int(batch.turn_mask[i].sum()), strip_suffix=suffix,
                                           length=int(batch.attention_mask[i].sum()))
                    for i in range(len(trajectories))]
        logprobs, mask = probe_episodes(self.model, self.tokenizer, contexts, list(golds), prefix,
                                        cfg.probe_batch_size, cfg.alias_reduce)
        width = batch.turn_mask.shape[1]
        gains = torch.zeros((len(trajectories), max(width - 1, 0)))
        if logprobs.shape[1] > 1:
            g = information_gain_rewards(logprobs, mask, cfg.ig_mode)
            gains[:, : g.shape[1]] = g[:, : gains.shape[1]]
        return gains

