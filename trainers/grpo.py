"""`GRPOTrainer` and `DAPOTrainer`: critic-free, group-baselined policy optimization on multi-turn envs.

GRPO (Shao et al. 2024) samples `group_size` episodes per task and scores each against its group:
`(R - mean) / (std + eps)` on every policy token, then takes PPO-clip steps. DAPO (Yu et al. 2025) is the same
loop with four changes, all config defaults here: clip-higher (`clip_high=0.28`), dynamic sampling (groups
whose rewards are all equal are dropped and more are sampled), token-mean loss aggregation, and a soft
overlong penalty; no KL term. The loop itself is `RLTrainer`'s; these classes only choose the defaults.

Start one in five lines::

    from agentgym.trainers import GRPOConfig, GRPOTrainer
    trainer = GRPOTrainer("smollm2", "Arithmetic-v0", env_kwargs={"difficulty": 1},
                          config=GRPOConfig(steps=50, learning_rate=2e-6))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from __future__ import annotations

from typing import ClassVar

from agentgym.trainers.base import RLTrainer, apply_overlong_shaping, compute_advantages
from agentgym.trainers.config import DAPOConfig, GRPOConfig, RLConfig

__all__ = ["DAPOTrainer", "GRPOTrainer", "apply_overlong_shaping", "compute_advantages"]


class GRPOTrainer(RLTrainer):
    """GRPO; `GRPOConfig.advantage` also selects Dr.GRPO, batch-std (Lite PPO), RLOO, REINFORCE++ or
    turn-level advantages, and `policy_loss="gspo"` GSPO, all on the same loop."""

    config_class: ClassVar[type[RLConfig]] = GRPOConfig
    name: ClassVar[str] = "grpo"


class DAPOTrainer(GRPOTrainer):
    """DAPO: GRPO with clip-higher, dynamic sampling, token-mean loss and overlong shaping (`DAPOConfig`)."""

    config_class: ClassVar[type[RLConfig]] = DAPOConfig
    name: ClassVar[str] = "dapo"
