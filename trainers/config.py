"""Trainer configuration: dataclasses validated on construction, loadable from YAML or a dict.

`RLConfig` holds every knob the generic loop in `RLTrainer` reads; the algorithm configs are subclasses
that change defaults (`DAPOConfig`), restrict the advantage estimator (`RLOOConfig`,
`ReinforcePPConfig`) or add fields (`PPOConfig`: the critic). Every field is checked in `__post_init__`
(type and range), and a bad value raises `ConfigError` naming the field, so a run fails before it loads a
model or samples a rollout.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from agentgym.trainers.algorithms.aggregation import AGG_MODES
from agentgym.trainers.algorithms.losses import KL_ESTIMATORS
from agentgym.trainers.algorithms.registry import ADVANTAGE_ESTIMATORS, POLICY_LOSSES

LR_SCHEDULERS = ("constant", "linear", "cosine")
REPORT_TO = ("console", "tensorboard", "wandb")
CRITICS = ("head", "separate")


class ConfigError(ValueError):
    """A config value is invalid; `field` names the offending field (or key)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class UnsupportedSetup(ValueError):
    """A combination a trainer refuses, such as LoRA under data parallelism or T-PPO on Ray rollout workers;
    the message says how to run it instead."""


def _type_ok(value: Any, annotation: Any) -> bool:
    """Whether `value` fits a field annotation made of int/float/str/bool/None, unions and list[str]."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return isinstance(value, list) and all(item is Any or _type_ok(v, item) for v in value)
    return True


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is list:
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    return getattr(annotation, "__name__", str(annotation))


@dataclass
class RLConfig:
    """Settings of the generic RL loop (`RLTrainer`); the defaults are GRPO with token-mean aggregation.

    Run: `steps` training steps from `seed`; log every `log_every` steps to the sinks in `report_to`
    ("console", "tensorboard", "wandb"; TensorBoard and W&B write under `output_dir`); evaluate on
    `eval_tasks` tasks of `eval_split` every `eval_every` steps; checkpoint every `checkpoint_every` steps
    into `output_dir`, keeping the last `keep_last`; `resume` continues from the latest checkpoint there.

    Rollout: `tasks_per_step` tasks, `group_size` episodes each, `max_new_tokens` per turn, `max_length`
    tokens per whole episode (prompt, turns and observations), sampled at `temperature`.

    Algorithm: `advantage` (a name in `agentgym.trainers.algorithms.ADVANTAGE_ESTIMATORS`); `policy_loss` "ppo" (clip `[1-clip_low, 1+clip_high]`,
    dual-clip `dual_clip`) or "gspo"; `loss_agg` in `AGG_MODES`; optional KL to the initial policy
    (`kl_coef`, `kl_estimator`), entropy bonus (`entropy_coef`), DAPO dynamic sampling (`dynamic_sampling`,
    `max_sampling_rounds`), DAPO overlong shaping (`overlong_buffer` > 0 tokens before
    `max_policy_tokens`), and `mask_truncated` (no loss on episodes cut at `max_length`).

    Optimization: AdamW with `learning_rate` under `lr_scheduler` ("constant", "linear" or "cosine" decay to
    `min_lr_ratio * learning_rate` over `steps`, after `warmup_steps` of linear warmup); `ppo_epochs`
    passes over each batch split into `mini_batch_size`-row optimizer steps (None: the whole batch),
    `micro_batch_size` rows per forward pass. `skip_zero_advantages` leaves rows whose advantages are all
    zero out of the forward/backward pass when no other term needs them (their gradient is exactly zero,
    and the loss normalization still counts them, so the update is unchanged).

    Model: LoRA through `peft` when `lora_r` > 0 (`lora_alpha`, `lora_dropout`, `lora_target_modules`);
    `bf16` autocast and `gradient_checkpointing`; `device` for models loaded from a spec ("auto": CUDA
    when there is one).
    """

    # the advantage estimators a config class accepts; None: every registered one that needs nothing a
    # particular trainer provides (subclasses list theirs)
    allowed_advantages: ClassVar[tuple[str, ...] | None] = None

    # run
    steps: int = 100
    seed: int = 0
    log_every: int = 1
    eval_every: int = 0
    eval_tasks: int = 100
    train_split: str = "train"
    eval_split: str = "test"
    output_dir: str | None = None
    run_name: str | None = None
    report_to: list[str] = field(default_factory=lambda: ["console"])
    wandb_project: str = "agentgym"
    wandb_mode: str | None = None
    checkpoint_every: int = 0
    keep_last: int | None = 3
    resume: bool = False
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
    log_entropy: bool = True
    dynamic_sampling: bool = False
    max_sampling_rounds: int = 3
    overlong_buffer: int = 0
    max_policy_tokens: int | None = None
    overlong_penalty: float = 1.0
    mask_truncated: bool = False
    # optimization
    learning_rate: float = 1e-6
    lr_scheduler: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    max_grad_norm: float | None = 1.0
    ppo_epochs: int = 1
    mini_batch_size: int | None = None
    micro_batch_size: int = 8
    skip_zero_advantages: bool = True
    # model
    device: str = "auto"
    bf16: bool = False
    gradient_checkpointing: bool = False
    lora_r: int = 0
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_target_modules: list[str] | str = "all-linear"

    # ------------------------------------------------------------------ validation

    def __post_init__(self) -> None:
        name = type(self).__name__
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "report_to" and isinstance(value, str):  # "console,tensorboard" from a CLI flag
                value = [] if value in ("", "none") else [v.strip() for v in value.split(",")]
                setattr(self, f.name, value)
            if not _type_ok(value, hints[f.name]):
                raise ConfigError(f.name, f"{name}.{f.name} must be {_type_name(hints[f.name])}, got {value!r}")
            if value is not None and float in (hints[f.name], *typing.get_args(hints[f.name])):
                if not math.isfinite(float(value)):
                    raise ConfigError(f.name, f"{name}.{f.name} must be a finite number, got {value!r}")
                setattr(self, f.name, float(value))  # YAML's `1` for a float field
        self.validate()

    def _fail(self, field_name: str, requirement: str) -> None:
        value = getattr(self, field_name, None)
        raise ConfigError(field_name, f"{type(self).__name__}.{field_name} {requirement}, got {value!r}")

    def _choice(self, field_name: str, choices: tuple[str, ...]) -> None:
        if getattr(self, field_name) not in choices:
            self._fail(field_name, f"must be one of {list(choices)}")

    def validate(self) -> None:
        """Range and consistency checks; subclasses extend it (call `super().validate()`)."""
        f = self._fail
        # run
        for k in ("steps", "log_every", "eval_every", "checkpoint_every", "warmup_steps"):
            if getattr(self, k) < 0:
                f(k, "must be >= 0")
        if self.eval_tasks < 1:
            f("eval_tasks", "must be >= 1")
        if self.keep_last is not None and self.keep_last < 1:
            f("keep_last", "must be >= 1 (or null to keep every checkpoint)")
        for sink in self.report_to:
            if sink not in REPORT_TO:
                raise ConfigError("report_to", f"{type(self).__name__}.report_to: unknown sink {sink!r}; "
                                               f"choose from {list(REPORT_TO)}")
        if self.wandb_mode is not None and self.wandb_mode not in ("online", "offline", "disabled"):
            f("wandb_mode", "must be 'online', 'offline', 'disabled' or null")
        if self.output_dir is None:
            if self.checkpoint_every > 0:
                f("output_dir", "must be set when checkpoint_every > 0 (checkpoints are written there)")
            if self.resume:
                f("output_dir", "must be set when resume is true (checkpoints are read from there)")
            if "tensorboard" in self.report_to:
                f("output_dir", "must be set to report to tensorboard (event files are written there)")
        # rollout
        for k in ("tasks_per_step", "group_size", "max_new_tokens", "max_length", "concurrency",
                  "rollout_batch_size", "max_sampling_rounds", "ppo_epochs", "micro_batch_size"):
            if getattr(self, k) < 1:
                f(k, "must be >= 1")
        if self.temperature <= 0:
            f("temperature", "must be > 0 (training samples from the policy; greedy rollouts have no log-probs "
                             "to learn from)")
        # algorithm
        self._choice("advantage", tuple(ADVANTAGE_ESTIMATORS))  # the registry: built-ins and user estimators
        estimator = ADVANTAGE_ESTIMATORS.get(self.advantage)
        allowed = self.allowed_advantages
        if allowed is None:
            allowed = tuple(n for n, e in ADVANTAGE_ESTIMATORS.items() if not e.requires)
        if estimator is not None and self.advantage not in allowed:
            f("advantage", f"must be one of {list(allowed)} for {type(self).__name__}"
                           + (f" ({self.advantage!r} needs {estimator.requires})" if estimator.requires else ""))
        group_baseline = estimator is not None and estimator.group_baseline
        if self.group_size < 2 and (group_baseline or self.dynamic_sampling):
            f("group_size", f"must be >= 2 for the group baseline of advantage={self.advantage!r}"
                            + (" and dynamic sampling" if self.dynamic_sampling else ""))
        self._choice("policy_loss", tuple(POLICY_LOSSES))
        self._choice("loss_agg", AGG_MODES)
        self._choice("kl_estimator", KL_ESTIMATORS)
        if not 0 < self.clip_low < 1:
            f("clip_low", "must be in (0, 1)")
        if self.clip_high is not None and self.clip_high <= 0:
            f("clip_high", "must be > 0 (or null to use clip_low)")
        if self.dual_clip is not None and self.dual_clip <= 1.0:
            f("dual_clip", "must be > 1 (or null to disable)")
        if not 0 <= self.gamma <= 1:
            f("gamma", "must be in [0, 1]")
        if self.adv_eps < 0:
            f("adv_eps", "must be >= 0")
        for k in ("kl_coef", "entropy_coef", "overlong_penalty", "weight_decay"):
            if getattr(self, k) < 0:
                f(k, "must be >= 0")
        if self.max_policy_tokens is not None and self.max_policy_tokens < 1:
            f("max_policy_tokens", "must be >= 1 (or null to use max_length)")
        if self.overlong_buffer < 0:
            f("overlong_buffer", "must be >= 0")
        limit = self.max_policy_tokens or self.max_length
        if self.overlong_buffer >= limit:
            f("overlong_buffer", f"must be smaller than max_policy_tokens/max_length ({limit})")
        # optimization
        if self.learning_rate <= 0:
            f("learning_rate", "must be > 0")
        self._choice("lr_scheduler", LR_SCHEDULERS)
        if not 0 <= self.min_lr_ratio <= 1:
            f("min_lr_ratio", "must be in [0, 1]")
        for k in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, k) < 1:
                f(k, "must be in [0, 1)")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            f("max_grad_norm", "must be > 0 (or null for no clipping)")
        rows = self.tasks_per_step * self.group_size
        if self.mini_batch_size is not None:
            if not 1 <= self.mini_batch_size <= rows:
                f("mini_batch_size", f"must be in [1, tasks_per_step * group_size = {rows}] (or null: one "
                                     "minibatch per step)")
            if self.micro_batch_size > self.mini_batch_size:
                f("micro_batch_size", f"must be <= mini_batch_size ({self.mini_batch_size})")
        # model
        if not (self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda")):
            f("device", "must be 'auto', 'cpu' or 'cuda[:N]'")
        if self.lora_r < 0:
            f("lora_r", "must be >= 0 (0 disables LoRA)")
        if self.lora_alpha <= 0:
            f("lora_alpha", "must be > 0")
        if not 0 <= self.lora_dropout < 1:
            f("lora_dropout", "must be in [0, 1)")
        if isinstance(self.lora_target_modules, list) and not self.lora_target_modules:
            f("lora_target_modules", "must name at least one module (or 'all-linear')")

    # ------------------------------------------------------------------ (de)serialization

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RLConfig:
        """Build from a dict; an unknown key is an error that names it (a typo should not pass silently)."""
        if not isinstance(data, dict):
            raise ConfigError("config", f"{cls.__name__}: expected a mapping of field names, got {type(data).__name__}")
        known = cls.field_names()
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(str(key), f"unknown config key {key!r} for {cls.__name__}{hint}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RLConfig:
        """Load from a YAML file: a mapping of field names, optionally under a `trainer:` or `config:` section.

        Run-level keys of an `agentgym train` file (`trainer: NAME`, `model`, `env`, `env_kwargs`) are
        skipped, so the same file works for both.
        """
        import yaml

        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError("config", f"{path}: expected a YAML mapping")
        for section in ("trainer", "config"):
            if isinstance(data.get(section), dict):
                data = data[section]
                break
        data = {k: v for k, v in data.items() if k not in ("trainer", "model", "env", "env_kwargs")}
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_yaml(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> RLConfig:
        """A validated copy with `changes` applied."""
        return type(self).from_dict({**self.to_dict(), **changes})

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each field's default value."""
        out = {}
        for f in fields(cls):
            out[f.name] = f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default
        return out


@dataclass
class GRPOConfig(RLConfig):
    """GRPO (Shao et al. 2024): group-normalized outcome advantages, PPO clip, token-mean, no critic.

    Also runs the other critic-free estimators (`advantage`: dr_grpo, batch_std, rloo, reinforce_pp,
    reinforce_pp_baseline, turn).
    """


@dataclass
class DAPOConfig(RLConfig):
    """DAPO (Yu et al. 2025): clip-higher (0.28), dynamic sampling, token-mean loss, overlong shaping, no KL.

    `overlong_buffer` None means a fifth of `max_policy_tokens` (or of `max_length`), DAPO's 4k of 20k.
    """

    clip_high: float | None = 0.28
    dynamic_sampling: bool = True
    loss_agg: str = "token-mean"
    kl_coef: float = 0.0
    overlong_buffer: int | None = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.overlong_buffer is None:
            limit = self.max_policy_tokens or self.max_length
            self.overlong_buffer = max(limit // 5, 1) if isinstance(limit, int) and limit > 1 else 0
        super().__post_init__()


@dataclass
class RLOOConfig(RLConfig):
    """RLOO (Ahmadian et al. 2024): each sample's baseline is the mean reward of the other samples of its task."""

    allowed_advantages: ClassVar[tuple[str, ...]] = ("rloo",)
    advantage: str = "rloo"


@dataclass
class ReinforcePPConfig(RLConfig):
    """REINFORCE++ (Hu 2025): discounted token returns whitened over the batch ("reinforce_pp"), or with a
    group-mean baseline first ("reinforce_pp_baseline")."""

    allowed_advantages: ClassVar[tuple[str, ...]] = ("reinforce_pp", "reinforce_pp_baseline")
    advantage: str = "reinforce_pp"


@dataclass
class PPOConfig(RLConfig):
    """PPO with a learned critic and GAE (`gamma`, `lam`) over the policy's tokens.

    `critic` "head" puts a scalar value head on the policy's last hidden states (one forward pass gives
    log-probs and values, and the value loss, weighted by `value_coef`, also trains the shared body);
    "separate" trains a critic model of its own (a copy of the initial policy's body, or `critic_model`, a
    model spec) with its own AdamW at `critic_learning_rate` (default `learning_rate`). The value loss is
    clipped to `value_clip` around the values seen at rollout time. `whiten_advantages` normalizes GAE
    advantages over the batch's policy tokens.
    """

    allowed_advantages: ClassVar[tuple[str, ...]] = ("gae",)
    advantage: str = "gae"
    group_size: int = 1
    tasks_per_step: int = 16
    lam: float = 0.95
    critic: str = "head"
    critic_model: str | None = None
    critic_learning_rate: float | None = None
    value_coef: float = 0.5
    value_clip: float | None = 0.2
    whiten_advantages: bool = True
    skip_zero_advantages: bool = False

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.lam <= 1:
            self._fail("lam", "must be in [0, 1]")
        self._choice("critic", CRITICS)
        if self.critic_model is not None and self.critic != "separate":
            self._fail("critic_model", "needs critic: separate")
        if self.critic_learning_rate is not None and self.critic_learning_rate <= 0:
            self._fail("critic_learning_rate", "must be > 0 (or null to use learning_rate)")
        if self.value_coef <= 0:
            self._fail("value_coef", "must be > 0")
        if self.value_clip is not None and self.value_clip <= 0:
            self._fail("value_clip", "must be > 0 (or null for no clipping)")


def read_run_file(path: str | Path) -> dict[str, Any]:
    """A run file's YAML mapping (ConfigError naming the line when it is not valid YAML)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError("yaml", f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ConfigError("yaml", f"{path}: expected a mapping of keys (trainer, model, ...)")
    return data
