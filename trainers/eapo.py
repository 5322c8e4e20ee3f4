"""`EAPOTrainer`: efficiency-aware policy optimization (IterResearch, arXiv 2511.07327).

The env side is `agentgym.wrappers.MarkovianWorkspace` (env id `EAPO-MultiHopQA-v0`): every round the
agent sees one rebuilt workspace (the question, its evolving `<report>`, only the last action and its
result) and writes a report plus one tool call or an `<answer>`. The trainer side, read top to bottom:

    rollout     groups of episodes; each round is its own token context, recorded exactly (`Turn.context_ids`)
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
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from agentgym.trainers.algorithms.eapo import (
    EAPO_GAMMA,
    downsample_rounds,
    eapo_round_rewards,
)
from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import RLConfig
from agentgym.trainers.data import TokenBatch

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


def with_round_rewards(traj: Trajectory, terminal: float, gamma: float) -> Trajectory:
    """A copy of a Markovian-workspace episode whose round t carries r_t = gamma^(T-t) R_T (the episode
    itself is left as it was, for logging)."""
    if any(len(ctx) != 1 for ctx in traj.contexts()):
        raise ValueError(f"episode {traj.episode_id}: EAPO needs an env that rebuilds the context every round "
                         "(agentgym.wrappers.MarkovianWorkspace, e.g. EAPO-MultiHopQA-v0)")
    n = len(traj.turns)
    rewards = eapo_round_rewards(torch.arange(1, n + 1), torch.full((n,), n), torch.full((n,), terminal), gamma)
    return replace(traj, turns=[replace(turn, reward=float(r)) for turn, r in zip(traj.turns, rewards, strict=True)])


class EAPOTrainer(RLTrainer):
    """EAPO on a Markovian-workspace env; see the module docstring."""

    config_class: ClassVar[type[RLConfig]] = EAPOConfig
    name: ClassVar[str] = "eapo"
    config: EAPOConfig

    def terminal(self, traj: Trajectory) -> float:
        """R_T of an episode: its success (0/1) or its env reward."""
        return float(traj.success) if self.config.terminal_reward == "success" else float(traj.reward)

    def build_batch(self, trajectories: Sequence[Trajectory]) -> TokenBatch:
        """One row per round of every episode (each round is its own token context), grouped by question,
        each carrying its round reward r_t."""
        cfg = self.config
        return super().build_batch([with_round_rewards(t, self.terminal(t), cfg.round_gamma) for t in trajectories])

    def optimize(self, batch: TokenBatch | None) -> dict[str, float]:
        """Downsample the round-samples to a multiple of `dp_multiple` (advantages already computed on all
        of them), then the usual update (None: no rows on this rank; data-parallel ranks still join in)."""
        if batch is not None:
            keep = downsample_rounds(len(batch), self.config.dp_multiple,
                                     self.config.seed * 1_000_003 + self.step)
            if len(keep) < len(batch):
                batch = batch.select(keep)
        out = super().optimize(batch if batch is not None and len(batch) else None)
        out["round_samples"] = len(batch) if batch is not None else 0
        return out
