"""GRPOTrainer end to end on a tiny random LM: it must really learn a 2-turn tool env."""

from __future__ import annotations

import copy

import pytest
import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import GRPOConfig, GRPOTrainer, build_batch, to_sft_dataset


def _trainer(seed: int = 0, **overrides) -> GRPOTrainer:
    tok = tiny_tokenizer()
    base = dict(steps=40, learning_rate=3e-3, group_size=8, tasks_per_step=8, max_new_tokens=4, max_length=64,
                micro_batch_size=64, seed=seed, log_every=0)
    base.update(overrides)
    return GRPOTrainer(tiny_model(tok, seed=seed), KeyEnv, GRPOConfig(**base), tokenizer=tok)


def test_grpo_learns_call_then_answer() -> None:
    torch.set_num_threads(1)
    trainer = _trainer()
    before = trainer.evaluate(n=64, temperature=1.0)
    history = trainer.train()
    after = trainer.evaluate(n=64, temperature=1.0)
    assert before["success"] < 0.2
    assert after["success"] > 0.9, (before, after, history[-1])
    # on-policy: the engine's sampling log-probs are the trainer's old log-probs, so the ratio starts at 1
    assert abs(history[0]["approx_kl"]) < 1e-5
    assert history[0]["rollout_seconds"] > 0 and history[0]["train_seconds"] > 0


@pytest.mark.parametrize("overrides", [
    {"advantage": "dr_grpo", "loss_agg": "seq-mean-token-sum-norm", "learning_rate": 3e-2},
    {"advantage": "rloo"},
    {"advantage": "turn", "gamma": 0.9},
    {"advantage": "batch_std", "clip_high": 0.28, "loss_agg": "seq-mean-token-mean"},
    {"advantage": "reinforce_pp_baseline", "ppo_epochs": 2, "mini_batch_size": 32, "micro_batch_size": 16},
    {"dynamic_sampling": True, "kl_coef": 0.01, "entropy_coef": 0.001, "overlong_buffer": 2,
     "max_policy_tokens": 12},
    {"policy_loss": "gspo", "clip_low": 3e-3, "clip_high": 4e-3, "loss_agg": "seq-mean-token-mean"},
], ids=["dr_grpo", "rloo", "turn", "batch_std", "rfpp_minibatch", "dapo_kl_entropy", "gspo"])
def test_variants_learn(overrides: dict) -> None:
    torch.set_num_threads(1)
    trainer = _trainer(**{"steps": 40, **overrides})
    trainer.train()
    assert trainer.evaluate(n=64, temperature=1.0)["success"] > 0.6, trainer.history[-1]
    if overrides.get("dynamic_sampling"):
        assert all("dropped_groups" in h for h in trainer.history)


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_micro_batching_gives_the_same_gradient(agg: str) -> None:
    """Accumulating micro-batches with global counts equals one full-batch backward."""
    import asyncio

    trainer = _trainer(loss_agg=agg)
    groups = asyncio.run(trainer.rollout(["train-0", "train-1", "train-2"]))
    batch = build_batch([t for g in groups for t in g], trainer.tokenizer)
    from agentgym.trainers.grpo import compute_advantages

    batch.advantages, batch.returns = compute_advantages(batch, trainer.config)
    batch.old_logprobs = batch.old_logprobs - 0.05 * batch.loss_mask  # ratios != 1, so clipping matters
    grads = []
    for micro_size in (len(batch), 5):
        trainer.model.zero_grad()
        counts = trainer.loss_counts(batch)
        for micro in batch.split(micro_size):
            if micro.num_policy_tokens:
                trainer.loss(micro, counts)[0].backward()
        grads.append(torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-4)


def test_config_yaml_round_trip(tmp_path) -> None:
    cfg = GRPOConfig(steps=3, advantage="rloo", clip_high=0.28, dual_clip=None)
    path = tmp_path / "cfg.yaml"
    cfg.to_yaml(path)
    assert GRPOConfig.from_yaml(path) == cfg
    path.write_text("trainer:\n  steps: 7\n  loss_agg: seq-mean-token-sum-norm\n")
    assert GRPOConfig.from_yaml(path).steps == 7
    with pytest.raises(ValueError, match=r"unknown config key .stepz"):
        GRPOConfig.from_dict({"stepz": 1})
    with pytest.raises(ValueError):
        GRPOConfig(advantage="nope")


def test_sft_export_and_expert_iteration() -> None:
    import asyncio

    trainer = _trainer(seed=3)
    groups = asyncio.run(trainer.rollout([f"train-{i}" for i in range(16)]))
    trajs = [t for g in groups for t in g]
    ds = to_sft_dataset(trajs)
    wins = [t for t in trajs if t.success]
    assert len(ds) == len(wins) > 0
    row = ds[0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert row["reward"] == pytest.approx(1.2)
    # behaviour cloning on the successes raises their likelihood; expert iteration raises success
    before = trainer.evaluate(n=64, temperature=1.0)["success"]
    model0 = copy.deepcopy(trainer.model)
    for _ in range(4):
        stats = trainer.warm_start(tasks=16, epochs=5, learning_rate=1e-2)
    assert stats["kept"] > 0 and stats["nll"] > 0
    after = trainer.evaluate(n=64, temperature=1.0)["success"]
    assert after > before + 0.2, (before, after)
    assert any((p0 != p1).any() for p0, p1 in zip(model0.parameters(), trainer.model.parameters(), strict=True))


def test_skipping_zero_advantage_rows_leaves_the_update_unchanged() -> None:
    import asyncio

    from agentgym.trainers.grpo import compute_advantages

    a = _trainer(seed=5, micro_batch_size=4)
    b = _trainer(seed=5, micro_batch_size=4, skip_zero_advantages=False)
    b.model.load_state_dict(a.model.state_dict())
    groups = asyncio.run(a.rollout(["train-0", "train-1", "train-2", "train-3"]))
    groups[0] = [groups[0][0]] * len(groups[0])  # an all-equal group: zero advantages
    batch = build_batch([t for g in groups for t in g], a.tokenizer)
    batch.advantages, batch.returns = compute_advantages(batch, a.config)
    assert ((batch.advantages.abs().sum(-1) == 0).sum()) >= 8
    a.optimize(batch)
    b.optimize(batch)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, atol=1e-6, rtol=1e-5)
