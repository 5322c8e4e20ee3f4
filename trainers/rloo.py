"""`RLOOTrainer` and `ReinforcePPTrainer`: REINFORCE-style baselines instead of GRPO's group normalization.

RLOO (Ahmadian et al. 2024): each episode's advantage is its reward minus the mean reward of the *other*
episodes of the same task. REINFORCE++ (Hu 2025): discounted token-level returns whitened over the batch,
optionally after subtracting the group mean ("reinforce_pp_baseline"). Both keep PPO's clipped ratio; their
estimators are the registered "rloo", "reinforce_pp" and "reinforce_pp_baseline"
(`agentgym.trainers.algorithms.registry`).
"""

from __future__ import annotations

from typing import ClassVar

from agentgym.trainers.base import RLTrainer
from agentgym.trainers.config import ReinforcePPConfig, RLConfig, RLOOConfig


class RLOOTrainer(RLTrainer):
    """REINFORCE leave-one-out: baseline = mean reward of the other samples of the task."""

    config_class: ClassVar[type[RLConfig]] = RLOOConfig
    name: ClassVar[str] = "rloo"



class ReinforcePPTrainer(RLTrainer):
    """REINFORCE++ ("reinforce_pp"), or REINFORCE++ with a group-mean baseline ("reinforce_pp_baseline")."""

    config_class: ClassVar[type[RLConfig]] = ReinforcePPConfig
    name: ClassVar[str] = "reinforce_pp"
