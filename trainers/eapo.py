"""`EAPOTrainer`: efficiency-aware policy optimization (IterResearch, arXiv 2511.07327).

The env side is `agentgym.wrappers.MarkovianWorkspace` (env id `EAPO-MultiHopQA-v0`): every round the
agent sees one rebuilt workspace (the question, its evolving `<report>`, only the last action and its
result) and writes a report plus one tool call or an `<answer>`. The trainer side, read top to bottom:

    rollout     groups of episodes; each round's exact prompt ids are recorded (`Turn.prompt_ids`)
    samples     every round is its own training row: prompt = that round's workspace, response = the
                round's generated tokens
    rewards     r_t = gamma^(T-t) * R_T with R_T the terminal success: a shorter successful episode earns
                more on every round
    advantages  normalized per question over all rounds of all episodes of its group
    downsample  the variable number of round-samples is cut to a multiple of the data-parallel size
                (`dp_multiple`), chosen at random after the advantages are computed
    loss        GSPO: sequence-level (length-normalized) importance ratio and clipping

Start it in five lines::

    from agentgym.trainers import EAPOConfig, EAPOTrainer
    trainer = EAPOTrainer("smollm2", "EAPO-MultiHopQA-v0", config=EAPOConfig(steps=40))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from agentgym.trainers.algorithms.eapo import (
    EAPO_GAMMA,
    downsample_rounds,
    eapo_advantages,
    eapo_round_rewards,
)
from agentgym.trainers.base import RLTrainer, apply_overlong_shaping
from agentgym.trainers.config import RLConfig
from agentgym.trainers.data import SequenceView, TokenBatch, collate

from agentgym.trajectory import Trajectory

TERMINAL_REWARDS = ("success", "reward")


@dataclass
class EAPOConfig(RLConfig):
    """EAPO's settings: `round_gamma` discounts the terminal reward back over rounds; `terminal_reward`
    "success" (R_T in {0, 1}, the paper) or "reward" (the env's graded reward); `dp_multiple` the
    data-parallel size the round-samples are downsampled to a multiple of (1: keep all). The loss is GSPO
    with its sequence-level clip range (3e-4 / 4e-4) and sequence-mean aggregation.
    """

    allowed_advantages: ClassVar[tuple[str, ...]] = ("eapo",)
    advantage: str = "eapo"
    policy_loss: str = "gspo"
    loss_agg: str = "seq-mean-token-mean"
    clip_low: float = 3e-4
    clip_high: float | None = 4e-4
    dual_clip: float | None = None
    round_gamma: float = EAPO_GAMMA
    terminal_reward: str = "success"
    dp_multiple: int = 1

    def validate(self) -> None:
        super().validate()
        if not 0 < self.round_gamma <= 1:
            self._fail("round_gamma", "must be in (0, 1]")
        self._choice("terminal_reward", TERMINAL_REWARDS)
        if self.dp_multiple < 1:
            self._fail("dp_multiple", "must be >= 1")


def round_views(traj: Trajectory, terminal: float, gamma: float,
                max_length: int | None = None) -> list[SequenceView]:
    """One `SequenceView` per round of a Markovian-workspace episode, its reward r_t = gamma^(T-t) R_T on
    its last policy token."""
    n_rounds = len(traj.turns)
    views = []
    for t, turn in enumerate(traj.turns, start=1):
        if turn.prompt_ids is None or turn.token_ids is None:
            raise ValueError(f"episode {traj.episode_id} round {t} has no prompt ids: EAPO needs an env that "
                             "rebuilds the context every round (agentgym.wrappers.MarkovianWorkspace, e.g. "
                             "EAPO-MultiHopQA-v0)")
        prompt, gen = list(turn.prompt_ids), list(turn.token_ids)
        logps = list(turn.logprobs) if turn.logprobs is not None else [0.0] * len(gen)
        reward = float(eapo_round_rewards(torch.tensor([t]), torch.tensor([n_rounds]), torch.tensor([terminal]),
                                          gamma)[0])
        ids, mask = prompt + gen, [0] * len(prompt) + [1] * len(gen)
        lps, tix = [0.0] * len(prompt) + logps, [-1] * len(prompt) + [0] * len(gen)
        truncated = max_length is not None and len(ids) > max_length
        if truncated:
            assert max_length is not None
            ids, mask, lps, tix = ids[:max_length], mask[:max_length], lps[:max_length], tix[:max_length]
        kept = [i for i, m in enumerate(mask) if m]
        views.append(SequenceView(ids, mask, lps, tix, [reward], [kept[-1] if kept else 0], len(prompt),
                                  truncated))
    return views


class EAPOTrainer(RLTrainer):
    """EAPO on a Markovian-workspace env; see the module docstring."""

    config_class: ClassVar[type[RLConfig]] = EAPOConfig
    name: ClassVar[str] = "eapo"
    config: EAPOConfig

    def terminal(self, traj: Trajectory) -> float:
        """R_T of an episode: its success (0/1) or its env reward."""
        return float(traj.success) if self.config.terminal_reward == "success" else float(traj.reward)

    def build_batch(self, trajectories: Sequence[Trajectory]) -> TokenBatch:
        """One row per round of every episode, grouped by question."""
        cfg = self.config
        views: list[SequenceView] = []
        groups: list[str] = []
        for traj in trajectories:
            rows = round_views(traj, self.terminal(traj), cfg.round_gamma, cfg.max_length)
            views += rows
            groups += [traj.task_id] * len(rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        batch = collate(views, groups, int(pad or 0))
        if cfg.overlong_buffer > 0:
            apply_overlong_shaping(batch, cfg)
        if cfg.mask_truncated:
            batch.loss_mask[batch.truncated] = 0
        return batch

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        rewards = batch.scores  # r_t, plus the overlong penalty when configured
        return eapo_advantages(rewards, batch.group_index, batch.loss_mask.float(), self.config.adv_eps)

    def optimize(self, batch: TokenBatch) -> dict[str, float]:
        """Downsample the round-samples to a multiple of `dp_multiple` (advantages already computed on all
        of them), then the usual update."""
        keep = downsample_rounds(len(batch), self.config.dp_multiple, self.config.seed * 1_000_003 + self.step)
        if len(keep) < len(batch):
            batch = batch.select(keep)
        out = super().optimize(batch) if len(batch) else {"updates": 0}
        out["round_samples"] = len(batch)
        return out
