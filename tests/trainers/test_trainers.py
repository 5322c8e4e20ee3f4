"""The algorithm trainers on `RLTrainer`: they learn, PPO's critic lines up with the policy tokens, LoRA
trains only the adapter, gradient checkpointing changes nothing, and the hooks are where subclasses act."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest
import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import (
    TRAINERS,
    DAPOTrainer,
    GRPOConfig,
    GRPOTrainer,
    PPOTrainer,
    ReinforcePPTrainer,
    RLOOTrainer,
    RLTrainer,
    build_batch,
    register_trainer,
)
from agentgym.trainers import algorithms as A
from agentgym.trainers.modeling import merged_state_dict, score_tokens
from agentgym.trainers.shapers import Shaper

BASE = dict(steps=40, learning_rate=3e-3, group_size=8, tasks_per_step=8, max_new_tokens=4, max_length=64,
            micro_batch_size=64, seed=0, log_every=0, report_to=[])


def _make(cls: type[RLTrainer], seed: int = 0, **overrides) -> RLTrainer:
    tok = tiny_tokenizer()
    return cls(tiny_model(tok, seed=seed), KeyEnv, {**BASE, **overrides}, tokenizer=tok)


@pytest.mark.parametrize(("cls", "overrides"), [
    (DAPOTrainer, {"max_policy_tokens": 12, "steps": 28}),  # dynamic sampling resamples: fewer steps
    (RLOOTrainer, {}),
    (ReinforcePPTrainer, {}),
    (ReinforcePPTrainer, {"advantage": "reinforce_pp_baseline"}),
    (PPOTrainer, {"tasks_per_step": 32, "group_size": 1}),
    (PPOTrainer, {"tasks_per_step": 32, "group_size": 1, "critic": "separate"}),
], ids=["dapo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "ppo_head", "ppo_separate_critic"])
def test_algorithm_trainers_learn(cls: type[RLTrainer], overrides: dict) -> None:
    torch.set_num_threads(1)
    trainer = _make(cls, **overrides)
    before = trainer.evaluate(n=64, temperature=1.0)["success"]
    trainer.train()
    after = trainer.evaluate(n=64, temperature=1.0)["success"]
    assert before < 0.2 and after > 0.85, (before, after, trainer.history[-1])
    last = trainer.history[-1]
    for key in ("reward", "success", "response_length", "tool_calls", "tokens_per_second", "rollout_seconds",
                "train_seconds", "sync_seconds", "lr"):
        assert key in last, key
    if cls is DAPOTrainer:
        assert trainer.config.clip_high == 0.28 and trainer.config.overlong_buffer == 2
        assert all("dropped_groups" in h for h in trainer.history)
    if cls is PPOTrainer:
        assert last["value_mean"] > 0.5  # the critic learned that episodes now earn ~1.2
        assert "vf_loss" in last


def test_ppo_values_sit_on_the_policy_tokens_and_feed_gae() -> None:
    torch.set_num_threads(1)
    trainer = _make(PPOTrainer, tasks_per_step=4, group_size=2, gamma=0.9, lam=0.8)
    assert isinstance(trainer, PPOTrainer) and trainer.value_head is not None
    torch.nn.init.normal_(trainer.value_head.linear.weight)  # non-trivial values
    groups = asyncio.run(trainer.rollout(["train-0", "train-1", "train-2"], group_size=2))
    batch = build_batch([t for g in groups for t in g], trainer.tokenizer, 64)
    trainer.score_batch(batch)
    assert batch.values is not None
    # V of a policy token = head(hidden state of the position before it), zero elsewhere
    with torch.no_grad():
        hidden = trainer.model.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        expected = torch.zeros(batch.input_ids.shape)
        expected[:, 1:] = trainer.value_head(hidden[:, :-1]).squeeze(-1)
    expected = expected * batch.loss_mask
    torch.testing.assert_close(batch.values, expected, atol=1e-5, rtol=1e-5)
    assert (batch.values[batch.loss_mask == 0] == 0).all() and batch.values[batch.loss_mask == 1].abs().sum() > 0
    adv, ret = trainer.compute_advantages(batch)
    ref_adv, ref_ret = A.gae_advantages(batch.token_rewards, batch.values, batch.loss_mask.float(), 0.9, 0.8)
    torch.testing.assert_close(adv, ref_adv * batch.loss_mask)
    torch.testing.assert_close(ret, ref_ret * batch.loss_mask)


@pytest.mark.parametrize("critic", ["head", "separate"])
def test_ppo_checkpoint_keeps_the_critic(tmp_path: Path, critic: str) -> None:
    torch.set_num_threads(1)
    a = _make(PPOTrainer, tasks_per_step=4, group_size=1, critic=critic, output_dir=str(tmp_path))
    a.train(steps=1)
    path = a.save_checkpoint()
    assert (path / "extra.pt").is_file()
    b = PPOTrainer(tiny_model(a.tokenizer, seed=5), KeyEnv, tokenizer=a.tokenizer, critic=None, resume_from=path)
    ma = a.critic if critic == "separate" else a.value_head
    mb = b.critic if critic == "separate" else b.value_head
    for pa, pb in zip(ma.parameters(), mb.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert pa.abs().sum() > 0  # trained, not the zero init
    if critic == "separate":
        assert b.critic_optimizer.state_dict()["state"].keys() == a.critic_optimizer.state_dict()["state"].keys()


def test_lora_step_changes_only_the_adapter_and_the_engine_samples_from_it(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    trainer = _make(GRPOTrainer, steps=2, learning_rate=5e-2, lora_r=4, lora_alpha=8, kl_coef=0.1,
                    output_dir=str(tmp_path))
    assert trainer.is_lora and trainer.ref_model is None  # the reference is the adapter switched off
    base_copy = copy.deepcopy(trainer.model.get_base_model())
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    after = trainer.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("lora_" in k for k in changed), sorted(changed)[:3]
    # step 2 sampled from the adapted policy: its rollout log-probs equal the trainer's (ratio 1)
    assert abs(trainer.history[1]["approx_kl"]) < 1e-5 and trainer.history[1]["kl"] > 1e-4
    assert trainer.engine.model is trainer.model
    # the KL reference really is the base model
    groups = asyncio.run(trainer.rollout(["train-0"], group_size=2))
    batch = build_batch([t for g in groups for t in g], trainer.tokenizer, 64)
    ref = trainer.score_rows(batch, trainer._ref_logprobs)
    with torch.no_grad():
        expected = score_tokens(base_copy, batch.input_ids, batch.attention_mask, batch.loss_mask).logprobs
    torch.testing.assert_close(ref, expected, atol=1e-5, rtol=1e-5)
    # what an engine with its own weights (vLLM) loads: a plain state dict that computes the adapted policy,
    # taken without changing the trained model by a single bit
    snapshot = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    merged_sd = merged_state_dict(trainer.model)
    assert not any("lora_" in k or "base_layer" in k for k in merged_sd)
    plain = tiny_model(trainer.tokenizer)  # the architecture without LoRA layers, other weights
    plain.load_state_dict(merged_sd)
    with torch.no_grad():
        adapted = score_tokens(trainer.model, batch.input_ids, batch.attention_mask, batch.loss_mask).logprobs
        from_merged = score_tokens(plain, batch.input_ids, batch.attention_mask, batch.loss_mask).logprobs
    torch.testing.assert_close(from_merged, adapted, atol=1e-5, rtol=1e-5)
    now = trainer.model.state_dict()
    assert all(torch.equal(v, now[k]) for k, v in snapshot.items())
    # the checkpoint holds the adapter only, and restores it
    path = trainer.save_checkpoint()
    assert (path / "model" / "adapter_model.safetensors").is_file()
    assert not (path / "model" / "model.safetensors").exists()
    resumed = GRPOTrainer(tiny_model(trainer.tokenizer), KeyEnv, trainer.config, tokenizer=trainer.tokenizer,
                          resume_from=path)
    for k, v in resumed.model.state_dict().items():
        assert torch.equal(v, after[k]), k


def test_gradient_checkpointing_gives_the_same_loss_and_gradient() -> None:
    torch.set_num_threads(1)
    results = []
    for gc in (False, True):
        trainer = _make(GRPOTrainer, gradient_checkpointing=gc, seed=2)
        assert trainer.model.model.gradient_checkpointing is gc
        groups = asyncio.run(trainer.rollout(["train-0", "train-1"]))
        batch = trainer.build_batch([t for g in groups for t in g])
        batch.advantages, batch.returns = trainer.compute_advantages(batch)
        batch.old_logprobs = batch.old_logprobs - 0.05 * batch.loss_mask
        trainer.model.zero_grad()
        loss, _ = trainer.loss(batch, trainer.loss_counts(batch))
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])
        results.append((loss.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-6, rtol=1e-4)


def test_bf16_on_cpu_warns_and_trains_in_full_precision() -> None:
    with pytest.warns(UserWarning, match="bf16"):
        trainer = _make(GRPOTrainer, bf16=True)
    assert trainer.train(steps=1)[0]["updates"] >= 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bf16_and_gradient_checkpointing_on_gpu() -> None:
    trainer = _make(GRPOTrainer, steps=3, bf16=True, gradient_checkpointing=True, device="cuda")
    history = trainer.train()
    assert trainer.device.type == "cuda"
    assert all(h["grad_norm"] == h["grad_norm"] for h in history if h["updates"])  # finite, not NaN
    # rollouts are sampled under the same autocast, so the first update is on-policy
    assert abs(history[0]["approx_kl"]) < 1e-2


def test_hooks_are_what_a_new_algorithm_overrides() -> None:
    calls: list[str] = []

    class ZeroStage(Shaper):
        def shape_rewards(self, group):
            calls.append("shape_rewards")
            for t in group.trajectories:
                for turn in t.turns:
                    turn.reward = 0.0

    class ZeroReward(GRPOTrainer):
        name = "zero_reward"

        def reward_stages(self):
            return [ZeroStage()]

        def compute_advantages(self, batch):
            calls.append("compute_advantages")
            assert batch.token_rewards.abs().sum() == 0
            return super().compute_advantages(batch)

    register_trainer("zero_reward", ZeroReward)
    try:
        assert TRAINERS["zero_reward"] is ZeroReward
        trainer = _make(ZeroReward, tasks_per_step=2)
        before = copy.deepcopy(trainer.model.state_dict())
        metrics = trainer.train(steps=2)[-1]
        assert calls == ["shape_rewards"] * 2 + ["compute_advantages"] + ["shape_rewards"] * 2 + ["compute_advantages"]
        assert metrics["updates"] == 0  # all-zero advantages: nothing to learn, no optimizer step
        for k, v in trainer.model.state_dict().items():
            assert torch.equal(v, before[k])
    finally:
        TRAINERS.pop("zero_reward", None)
    with pytest.raises(TypeError):
        register_trainer("bad", dict)  # type: ignore[arg-type]
    assert set(TRAINERS) >= {"grpo", "dapo", "ppo", "rloo", "reinforce_pp"}


def test_a_registered_estimator_is_one_function_and_the_trainer_uses_it() -> None:
    """The worked example of trainers/README.md: register, configure by name, train a step with it."""
    from agentgym.trainers.algorithms import ADVANTAGE_ESTIMATORS, as_group_index, register_advantage
    from agentgym.trainers.config import ConfigError

    calls: list[int] = []

    @register_advantage("median_baseline_test", outcome=True, group_baseline=True)
    def median_baseline(batch, cfg):
        """Score minus the median score of the task's group."""
        calls.append(len(batch))
        scores, groups = batch.token_rewards.sum(-1), as_group_index(batch.group_index)
        medians = torch.stack([scores[groups == g].median() for g in groups.tolist()])
        adv = (scores - medians)[:, None] * batch.loss_mask
        return adv, adv

    try:
        with pytest.raises(ValueError, match="already registered"):
            register_advantage("median_baseline_test")(median_baseline)
        with pytest.raises(ConfigError, match="group_size"):
            GRPOConfig(advantage="median_baseline_test", group_size=1)
        tok = tiny_tokenizer()
        cfg = GRPOConfig(advantage="median_baseline_test", steps=1, group_size=4, tasks_per_step=2,
                         max_new_tokens=4, max_length=64, log_every=0)
        trainer = GRPOTrainer(tiny_model(tok), KeyEnv, cfg, tokenizer=tok)
        trainer.train()
        assert calls == [8]
        assert ADVANTAGE_ESTIMATORS["median_baseline_test"].summary == "Score minus the median score of the task's group."
    finally:
        ADVANTAGE_ESTIMATORS.pop("median_baseline_test", None)
