"""Trainer configuration: one dataclass, loadable from YAML or a dict, with the PPO/GRPO-family knobs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from agentgym.trainers.algorithms.advantages import ADVANTAGE_ESTIMATORS
from agentgym.trainers.algorithms.aggregation import AGG_MODES
from agentgym.trainers.algorithms.losses import KL_ESTIMATORS

ADVANTAGES = ADVANTAGE_ESTIMATORS
POLICY_LOSSES = ("ppo", "gspo")


@dataclass
class GRPOConfig:
    """Settings of `GRPOTrainer` (defaults: GRPO with token-mean aggregation, no KL, one PPO epoch).

    Rollout: `tasks_per_step` tasks, `group_size` episodes each, `max_new_tokens` per turn, `max_length`
    tokens per whole episode (prompt, turns and observations), sampled at `temperature`.

    Algorithm: `advantage` in `ADVANTAGES`; `policy_loss` "ppo" (clip `[1-clip_low, 1+clip_high]`, dual-clip
    `dual_clip`) or "gspo"; `loss_agg` in `AGG_MODES`; optional KL to the initial policy (`kl_coef`,
    `kl_estimator`), entropy bonus (`entropy_coef`), DAPO dynamic sampling (`dynamic_sampling`,
    `max_sampling_rounds`), DAPO overlong shaping (`overlong_buffer` > 0 tokens before `max_policy_tokens`),
    and `mask_truncated` (no loss on episodes cut at `max_length`).

    Optimization: AdamW with `learning_rate`, `ppo_epochs` passes over each batch split into
    `mini_batch_size`-row optimizer steps (None: the whole batch), `micro_batch_size` rows per forward pass.
    `skip_zero_advantages` leaves rows whose advantages are all zero (e.g. GRPO groups with equal rewards) out
    of the forward/backward pass when there is no KL or entropy term: their gradient is exactly zero, and the
    loss normalization still counts them, so the update is unchanged.
    """

    # run
    steps: int = 100
    seed: int = 0
    log_every: int = 1
    eval_every: int = 0
    eval_tasks: int = 100
    train_split: str = "train"
    eval_split: str = "test"
    # rollout
    tasks_per_step: int = 4
    group_size: int = 8
    max_new_tokens: int = 128
    max_length: int = 2048
    temperature: float = 1.0
    concurrency: int = 64
    rollout_batch_size: int = 64
    # algorithm
    advantage: str = "grpo"
    policy_loss: str = "ppo"
    loss_agg: str = "token-mean"
    clip_low: float = 0.2
    clip_high: float | None = None
    dual_clip: float | None = 3.0
    gamma: float = 1.0
    adv_eps: float = 1e-6
    kl_coef: float = 0.0
    kl_estimator: str = "k3"
    entropy_coef: float = 0.0
    dynamic_sampling: bool = False
    max_sampling_rounds: int = 3
    overlong_buffer: int = 0
    max_policy_tokens: int | None = None
    overlong_penalty: float = 1.0
    mask_truncated: bool = False
    # optimization
    learning_rate: float = 1e-6
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    max_grad_norm: float | None = 1.0
    ppo_epochs: int = 1
    mini_batch_size: int | None = None
    micro_batch_size: int = 8
    skip_zero_advantages: bool = True

    def __post_init__(self) -> None:
        if self.advantage not in ADVANTAGES:
            raise ValueError(f"advantage must be one of {ADVANTAGES}, got {self.advantage!r}")
        if self.policy_loss not in POLICY_LOSSES:
            raise ValueError(f"policy_loss must be one of {POLICY_LOSSES}, got {self.policy_loss!r}")
        if self.loss_agg not in AGG_MODES:
            raise ValueError(f"loss_agg must be one of {AGG_MODES}, got {self.loss_agg!r}")
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f"kl_estimator must be one of {KL_ESTIMATORS}, got {self.kl_estimator!r}")
        if self.group_size < 1 or self.tasks_per_step < 1 or self.micro_batch_size < 1:
            raise ValueError("group_size, tasks_per_step and micro_batch_size must be >= 1")
        if self.dual_clip is not None and self.dual_clip <= 1.0:
            raise ValueError("dual_clip must be > 1 (or None to disable)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GRPOConfig:
        """Build from a dict; unknown keys are an error (a typo should not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {unknown}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> GRPOConfig:
        """Load from a YAML file (a mapping of field names; a top-level `trainer:` section also works)."""
        import yaml

        data = yaml.safe_load(Path(path).read_text()) or {}
        if "trainer" in data and isinstance(data["trainer"], dict):
            data = data["trainer"]
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_yaml(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
