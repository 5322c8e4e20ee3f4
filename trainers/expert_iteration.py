"""`ExpertIterationTrainer`: sample with the current policy, keep the episodes that succeeded, clone them, repeat.

Expert iteration (Anthony et al. 2017) in the form Aviary/LDP train language agents with it (also called
rejection-sampling fine-tuning): each step samples `group_size` episodes of `tasks_per_step` training tasks,
keeps the successful ones (or those with reward >= `min_reward`), and takes `ppo_epochs` passes of behaviour
cloning over their policy tokens,

    L = -(1 / N) * sum over kept episodes' policy tokens of log pi_theta(a_t | s_t)

(N: the kept policy tokens, `loss_agg="token-mean"`). Everything else is `RLTrainer`'s loop: the recorded token
view, micro-batching, data parallelism, logging, evaluation and checkpoints. A step whose samples all failed
makes no update. For a cold start, `warm_start(demonstrations)` first clones oracle or API-model episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from agentgym.trainers import algorithms as A
from agentgym.trainers.base import RLTrainer, Rollout
from agentgym.trainers.config import RLConfig
from agentgym.trainers.data import TokenBatch
from agentgym.trainers.sft import successful
from agentgym.trainers.shapers import Group

__all__ = ["ExpertIterationConfig", "ExpertIterationTrainer"]


@dataclass
class ExpertIterationConfig(RLConfig):
    """Expert iteration: `ppo_epochs` passes of behaviour cloning over each step's kept episodes.

    `min_reward`: keep episodes whose reward reaches it instead of the successful ones. The sampling temperature
    (1.0) explores; `learning_rate` is an SFT rate (1e-5).
    """

    min_reward: float | None = None
    learning_rate: float = 1e-5
    ppo_epochs: int = 2
    kl_coef: float = 0.0
    skip_zero_advantages: bool = False


class ExpertIterationTrainer(RLTrainer):
    """Expert iteration / rejection-sampling fine-tuning on a `LanguageEnv` (see the module docstring)."""

    config_class: ClassVar[type[RLConfig]] = ExpertIterationConfig
    name: ClassVar[str] = "expert_iteration"

    async def acollect(self) -> Rollout:
        """The step's samples; only the kept (successful) episodes go on to the batch."""
        rollout = await super().acollect()
        cfg = self.config
        min_reward = getattr(cfg, "min_reward", None)
        kept = [Group(g.task_id, successful(g.trajectories, min_reward), g.size) for g in rollout.groups]
        kept = [g for g in kept if g.trajectories]
        stats = {**rollout.stats, "kept_episodes": float(sum(len(g.trajectories) for g in kept))}
        return Rollout(kept, rollout.sampled, stats)

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Every kept policy token has weight 1 (cloning, no baseline)."""
        ones = batch.loss_mask.to(torch.float32)
        return ones, ones

    def policy_loss(self, logprobs: torch.Tensor, micro: TokenBatch,
                    counts: dict[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """L = -mean log pi_theta(a_t | s_t) over the kept policy tokens (the minibatch's `counts`)."""
        nll = A.aggregate_loss(-logprobs, micro.loss_mask, self.config.loss_agg, **counts)
        return nll, {"nll": nll.detach()}
