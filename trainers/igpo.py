"""`IGPOTrainer`: information-gain policy optimization (arXiv 2510.14967) for multi-turn search agents.

Every turn is rewarded by how much it raised the policy's own belief in the gold answer; the final turn
by the outcome. One step, read top to bottom:

    rollout   groups of episodes (MultiHopQA-v0 or any env whose tasks carry gold answers,
              `Trajectory.task.gold_answers`)
    probe     (the `IGPOReward` reward stage, per group) for every episode and every turn boundary
              t = 0..K-1 of its recorded token context, teacher-force an "answer now" prefix and the gold
              answer after c_t and score only the answer tokens with the current policy:
              p_t = exp(mean log-prob), all boundaries in batched forward passes (`probe_episodes`)
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
from agentgym.trainers.data import trajectory_views
from agentgym.trainers.igpo_probe import (
    ANSWER_NOW,
    answer_prefix_ids,
    generation_prompt_ids,
    probe_episodes,
    turn_boundary_contexts,
)
from agentgym.trainers.shapers import Group, Shaper

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
    """The gold answer aliases of the episode's task (`Trajectory.task`)."""
    if traj.task is None or not traj.task.gold_answers:
        raise ValueError(f"episode {traj.episode_id}: the env gave no gold answer (info['task']); IGPO's probe "
                         "needs it")
    return list(traj.task.gold_answers)


def answered(traj: Trajectory) -> bool:
    """Whether the episode ended with an answer in a valid format (else its last turn gets the penalty)."""
    if traj.answer is None or traj.truncated or not traj.terminated:
        return False
    return traj.format.ok if traj.format is not None else True


class IGPOReward(Shaper):
    """The reward stage of IGPO: every turn but the last gets its information gain, probed with the current
    (pre-update) policy on the recorded token contexts; the last gets the outcome, or the format penalty."""

    def __init__(self, model: Any, tokenizer: Any, config: IGPOConfig) -> None:
        self.model, self.tokenizer, self.config = model, tokenizer, config

    @torch.no_grad()
    def shape_rewards(self, group: Group) -> None:
        trajs = [t for t in group.trajectories if t.turns]
        if not trajs:
            return
        cfg = self.config
        golds = [gold_answers_of(t) for t in trajs]
        gains = self.information_gains(trajs, golds)
        outcome = torch.tensor([igpo_outcome_score(t.answer if t.answer is None else str(t.answer), g,
                                                   cfg.outcome_metric, format_ok=True,
                                                   format_penalty=cfg.format_penalty)
                                for t, g in zip(trajs, golds, strict=True)])
        done = torch.tensor([answered(t) for t in trajs])
        turns = torch.tensor([t.num_turns for t in trajs])
        turn_mask = (torch.arange(int(turns.max()))[None, :] < turns[:, None]).long()
        rewards, _ = igpo_turn_rewards(gains, turn_mask, outcome, done, cfg.format_penalty)
        for traj, row in zip(trajs, rewards.tolist(), strict=True):
            for turn, r in zip(traj.turns, row, strict=False):
                turn.reward = float(r)
            traj.reward = sum(t.reward for t in traj.turns)

    def information_gains(self, trajs: Sequence[Trajectory], golds: Sequence[Sequence[str]]) -> torch.Tensor:
        """`(E, K-1)` information gains of every turn but the last, from one batched probe of all boundaries
        of the episodes' recorded token contexts."""
        cfg = self.config
        suffix = generation_prompt_ids(self.tokenizer)
        prefix = answer_prefix_ids(self.tokenizer, cfg.probe_instruction)
        contexts = []
        for t in trajs:
            views = trajectory_views(t)
            if len(views) != 1:
                raise ValueError(f"episode {t.episode_id}: IGPO probes one growing context; this env reset it "
                                 f"{len(views) - 1} time(s)")
            contexts.append(turn_boundary_contexts(views[0].input_ids, views[0].turn_index, num_turns=t.num_turns,
                                                   strip_suffix=suffix))
        logprobs, mask = probe_episodes(self.model, self.tokenizer, contexts, list(golds), prefix,
                                        cfg.probe_batch_size, cfg.alias_reduce)
        width = max(t.num_turns for t in trajs)
        gains = torch.zeros((len(trajs), max(width - 1, 0)))
        if logprobs.shape[1] > 1:
            g = information_gain_rewards(logprobs, mask, cfg.ig_mode)
            gains[:, : g.shape[1]] = g[:, : gains.shape[1]]
        return gains


class IGPOTrainer(RLTrainer):
    """IGPO on a multi-turn env whose tasks carry gold answers; see the module docstring."""

    config_class: ClassVar[type[RLConfig]] = IGPOConfig
    name: ClassVar[str] = "igpo"
    config: IGPOConfig

    def reward_stages(self) -> list[Shaper]:
        # data parallel: the probes run on the plain (unsharded) copy that samples, which holds the same weights
        return [IGPOReward(self.plain_policy, self.tokenizer, self.config)]
