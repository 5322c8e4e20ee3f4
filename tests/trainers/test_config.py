"""Config validation: bad values fail at construction, before any rollout, with a message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from agentgym.trainers import (
    ConfigError,
    DAPOConfig,
    GRPOConfig,
    GRPOTrainer,
    PPOConfig,
    ReinforcePPConfig,
    RLConfig,
    RLOOConfig,
)
from agentgym.trainers.optim import lr_factor


@pytest.mark.parametrize(("cls", "kwargs", "field"), [
    (GRPOConfig, {"learning_rate": 0}, "learning_rate"),
    (GRPOConfig, {"learning_rate": -1e-5}, "learning_rate"),
    (GRPOConfig, {"learning_rate": "fast"}, "learning_rate"),
    (GRPOConfig, {"learning_rate": float("nan")}, "learning_rate"),
    (GRPOConfig, {"steps": "3"}, "steps"),
    (GRPOConfig, {"steps": 2.5}, "steps"),
    (GRPOConfig, {"group_size": 1}, "group_size"),
    (RLOOConfig, {"group_size": 1}, "group_size"),
    (GRPOConfig, {"group_size": True}, "group_size"),
    (GRPOConfig, {"clip_low": 1.5}, "clip_low"),
    (GRPOConfig, {"clip_high": -0.1}, "clip_high"),
    (GRPOConfig, {"dual_clip": 0.5}, "dual_clip"),
    (GRPOConfig, {"gamma": 1.5}, "gamma"),
    (GRPOConfig, {"temperature": 0.0}, "temperature"),
    (GRPOConfig, {"micro_batch_size": 0}, "micro_batch_size"),
    (GRPOConfig, {"mini_batch_size": 0}, "mini_batch_size"),
    (GRPOConfig, {"mini_batch_size": 1000}, "mini_batch_size"),
    (GRPOConfig, {"mini_batch_size": 4, "micro_batch_size": 8}, "micro_batch_size"),
    (GRPOConfig, {"ppo_epochs": 0}, "ppo_epochs"),
    (GRPOConfig, {"advantage": "magic"}, "advantage"),
    (GRPOConfig, {"advantage": "gae"}, "advantage"),
    (RLOOConfig, {"advantage": "grpo"}, "advantage"),
    (ReinforcePPConfig, {"advantage": "grpo"}, "advantage"),
    (GRPOConfig, {"loss_agg": "mean"}, "loss_agg"),
    (GRPOConfig, {"policy_loss": "dpo"}, "policy_loss"),
    (GRPOConfig, {"kl_estimator": "k9"}, "kl_estimator"),
    (GRPOConfig, {"kl_coef": -0.1}, "kl_coef"),
    (GRPOConfig, {"overlong_buffer": 4096, "max_length": 1024}, "overlong_buffer"),
    (GRPOConfig, {"max_grad_norm": 0}, "max_grad_norm"),
    (GRPOConfig, {"adam_beta2": 1.0}, "adam_beta2"),
    (GRPOConfig, {"lr_scheduler": "step"}, "lr_scheduler"),
    (GRPOConfig, {"min_lr_ratio": 2}, "min_lr_ratio"),
    (GRPOConfig, {"warmup_steps": -1}, "warmup_steps"),
    (GRPOConfig, {"report_to": ["console", "mlflow"]}, "report_to"),
    (GRPOConfig, {"report_to": ["tensorboard"]}, "output_dir"),
    (GRPOConfig, {"checkpoint_every": 5}, "output_dir"),
    (GRPOConfig, {"resume": True}, "output_dir"),
    (GRPOConfig, {"keep_last": 0}, "keep_last"),
    (GRPOConfig, {"wandb_mode": "sometimes"}, "wandb_mode"),
    (GRPOConfig, {"lora_r": -4}, "lora_r"),
    (GRPOConfig, {"lora_dropout": 1.0}, "lora_dropout"),
    (GRPOConfig, {"lora_target_modules": []}, "lora_target_modules"),
    (GRPOConfig, {"device": "tpu"}, "device"),
    (GRPOConfig, {"bf16": "yes"}, "bf16"),
    (PPOConfig, {"lam": 1.2}, "lam"),
    (PPOConfig, {"critic": "twin"}, "critic"),
    (PPOConfig, {"critic_model": "smollm2"}, "critic_model"),
    (PPOConfig, {"value_clip": 0}, "value_clip"),
    (PPOConfig, {"value_coef": 0}, "value_coef"),
    (PPOConfig, {"critic_learning_rate": -1}, "critic_learning_rate"),
])
def test_bad_values_name_the_field(cls: type[RLConfig], kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rte'.*did you mean 'learning_rate'"):
        GRPOConfig.from_dict({"learning_rte": 1e-5})
    with pytest.raises(ConfigError, match="'lam'"):
        GRPOConfig.from_dict({"lam": 0.9})  # a PPO-only field
    path = tmp_path / "c.yaml"
    path.write_text("trainer:\n  steps: 3\n  grop_size: 4\n")
    with pytest.raises(ConfigError, match="grop_size"):
        GRPOConfig.from_yaml(path)


def test_valid_values_and_coercion() -> None:
    cfg = GRPOConfig.from_dict({"learning_rate": 1, "clip_high": 0.3, "report_to": "console,tensorboard",
                                "output_dir": "x", "lora_target_modules": ["q_proj", "v_proj"]})
    assert cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)
    assert cfg.report_to == ["console", "tensorboard"]
    assert GRPOConfig(report_to="none").report_to == []
    assert cfg.replace(steps=7).steps == 7
    with pytest.raises(ConfigError, match="steps"):
        cfg.replace(steps=-1)


def test_algorithm_defaults() -> None:
    dapo = DAPOConfig()
    assert (dapo.clip_high, dapo.dynamic_sampling, dapo.loss_agg, dapo.kl_coef) == (0.28, True, "token-mean", 0.0)
    assert dapo.overlong_buffer == dapo.max_length // 5
    assert DAPOConfig(max_policy_tokens=100).overlong_buffer == 20
    assert RLOOConfig().advantage == "rloo"
    assert ReinforcePPConfig().advantage == "reinforce_pp"
    assert ReinforcePPConfig(advantage="reinforce_pp_baseline").advantage == "reinforce_pp_baseline"
    ppo = PPOConfig()
    assert (ppo.advantage, ppo.critic, ppo.group_size) == ("gae", "head", 1)
    assert GRPOConfig().advantage == "grpo"


def test_another_algorithms_config_converts() -> None:
    from agentgym.trainers import DAPOTrainer, PPOTrainer

    cfg = DAPOTrainer.coerce_config(GRPOConfig(steps=10, learning_rate=1e-5))
    assert isinstance(cfg, DAPOConfig)
    assert (cfg.steps, cfg.learning_rate, cfg.clip_high, cfg.dynamic_sampling) == (10, 1e-5, 0.28, True)
    assert isinstance(GRPOTrainer.coerce_config({"steps": 3}), GRPOConfig)
    with pytest.raises(ConfigError, match="advantage"):
        PPOTrainer.coerce_config(GRPOConfig(advantage="rloo"))


def test_bad_config_fails_before_any_env_or_rollout() -> None:
    made = []

    def factory():
        made.append(1)
        raise AssertionError("the env must not be built")

    with pytest.raises(ConfigError, match="clip_low"):
        GRPOTrainer(object(), factory, {"clip_low": 0}, tokenizer=object())
    assert made == []


def test_lr_schedules() -> None:
    assert [lr_factor(s, 10, "constant", warmup=2) for s in range(4)] == [0.5, 1.0, 1.0, 1.0]
    lin = [lr_factor(s, 5, "linear", min_ratio=0.2) for s in range(5)]
    assert lin[0] == 1.0 and lin[-1] == pytest.approx(0.2) and lin == sorted(lin, reverse=True)
    cos = [lr_factor(s, 6, "cosine", warmup=1) for s in range(6)]
    assert cos[0] == 1.0 and cos[1] == 1.0 and cos[-1] == pytest.approx(0.0)
    assert cos[3] == pytest.approx(0.5)  # halfway through the decay
