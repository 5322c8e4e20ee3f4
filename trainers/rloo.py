"""`RLOOTrainer` and `ReinforcePPTrainer`: REINFORCE-style baselines instead of GRPO's group normalization.

RLOO (Ahmadian et al. 2024): each episode's advantage is its reward minus the mean reward of the *other*
episodes of the same task. REINFORCE++ (Hu 2025): discounted token-level returns whitened over the batch,
optionally after subtracting the group mean ("reinforce_pp_baseline"). Both keep PPO's clipped ratio.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from agentgym.trainers import algorithms as A
from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import ReinforcePPConfig, RLConfig, RLOOConfig
from agentgym.trainers.data import TokenBatch


class RLOOTrainer(RLTrainer):
    """REINFORCE leave-one-out: baseline = mean reward of the other samples of the task."""

    config_class: ClassVar[type[RLConfig]] = RLOOConfig
    name: ClassVar[str] = "rloo"

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        return A.rloo_advantages(batch.token_rewards, batch.loss_mask.float(), batch.group_index)


class ReinforcePPTrainer(RLTrainer):
    """REINFORCE++ ("reinforce_pp"), or REINFORCE++ with a group-mean baseline ("reinforce_pp_baseline")."""

    config_class: ClassVar[type[RLConfig]] = ReinforcePPConfig
    name: ClassVar[str] = "reinforce_pp"

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        r, m = batch.token_rewards, batch.loss_mask.float()
        if self.config.advantage == "reinforce_pp_baseline":
            return A.reinforce_pp_baseline_advantages(r, m, batch.group_index)
        return A.reinforce_pp_advantages(r, m, self.config.gamma)
