"""T-PPO (`TPPOTrainer`): Extended GAE on hand-computed rows, the value loss on finished responses only,
windows that pause episodes across steps (each token trained once, under the policy that sampled it, its
context kept exactly), a short run with a separate critic, and the example run file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import TRAINERS, ConfigError, TPPOConfig, TPPOTrainer, load_run_spec
from agentgym.trainers.algorithms.advantages import gae_advantages
from agentgym.trainers.data import TokenBatch
from agentgym.trainers.modeling import TokenScores, score_tokens
from agentgym.trainers.tppo import stop_across_boundary, tppo_advantages

ROOT = Path(__file__).resolve().parents[2]
BASE = dict(learning_rate=1e-3, group_size=1, tasks_per_step=4, max_new_tokens=6, max_length=64,
            micro_batch_size=64, seed=0, log_every=0, report_to=[], window_tokens=4)


def _make(**overrides) -> TPPOTrainer:
    tok = tiny_tokenizer()
    return TPPOTrainer(tiny_model(tok), KeyEnv, {**BASE, **overrides}, tokenizer=tok)


# two rows over 5 positions: row 0 finished (position 1 from an earlier window, 2-3 from this one, reward 1
# on 3); row 1 paused by the window after positions 1-2
REWARDS = torch.tensor([[0, 0, 0, 1.0, 0], [0, 0, 0, 0, 0]])
VALUES = torch.tensor([[0, 0.4, 0.5, 0.6, 0], [0, 0.2, 0.3, 0, 0]])
POLICY = torch.tensor([[0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
VALUE = torch.tensor([[0, 1, 1, 1, 0], [0, 0, 0, 0, 0]])
CUT = torch.tensor([False, True])


def test_extended_gae_on_hand_computed_rows() -> None:
    adv, ret = tppo_advantages(REWARDS, VALUES, POLICY, VALUE, CUT, gamma=1.0, lam=0.5, whiten=False)
    # row 0 (finished, V after the end = 0): d3 = 1 - .6 = .4, A3 = .4; d2 = .6 - .5 = .1, A2 = .1 + .5 * .4 = .3;
    # d1 = .5 - .4 = .1, A1 = .1 + .5 * .3 = .25 (trained in its own window: no advantage now, but a return)
    # row 1 (truncated, V(s_l) := V(s_{l-1}) = .3): d2 = .3 - .3 = 0, A2 = 0; d1 = .3 - .2 = .1, A1 = .1
    torch.testing.assert_close(adv, torch.tensor([[0, 0, 0.3, 0.4, 0], [0, 0.1, 0, 0, 0]]))
    # returns R = A + V on the finished response's tokens only (every window of it)
    torch.testing.assert_close(ret, torch.tensor([[0, 0.65, 0.8, 1.0, 0], [0, 0, 0, 0, 0]]))
    # without the bootstrap row 1 would end at V = 0: d2 = -.3, A1 = .1 + .5 * -.3 = -.05
    plain, _ = tppo_advantages(REWARDS, VALUES, POLICY, VALUE, torch.tensor([False, False]), 1.0, 0.5, whiten=False)
    torch.testing.assert_close(plain[1], torch.tensor([0, -0.05, -0.3, 0, 0]))
    torch.testing.assert_close(plain[0], adv[0])  # the bootstrap touches truncated rows only
    # a finished row's window tokens: the same as GAE over the window alone
    alone, _ = gae_advantages(REWARDS[:1], VALUES[:1], POLICY[:1].float(), 1.0, 0.5, whiten=False)
    torch.testing.assert_close(adv[0], alone[0] * POLICY[0])
    # whitened over this window's tokens (.3, .4, .1, 0: mean .2, unbiased std sqrt(.1 / 3))
    white, _ = tppo_advantages(REWARDS, VALUES, POLICY, VALUE, CUT, gamma=1.0, lam=0.5)
    s = (0.1 / 3) ** 0.5
    expected = torch.tensor([[0, 0, 0.1 / s, 0.2 / s, 0], [0, -0.1 / s, -0.2 / s, 0, 0]])
    torch.testing.assert_close(white, expected, atol=1e-5, rtol=1e-5)


def _hand_batch() -> TokenBatch:
    b, t = REWARDS.shape
    batch = TokenBatch(
        input_ids=torch.ones(b, t, dtype=torch.long), attention_mask=torch.ones(b, t, dtype=torch.long),
        loss_mask=POLICY.clone(), old_logprobs=torch.full((b, t), -1.0), turn_index=torch.zeros(b, t, dtype=torch.long),
        token_rewards=REWARDS.clone(), turn_rewards=torch.zeros(b, 1), turn_mask=torch.ones(b, 1, dtype=torch.long),
        group_index=torch.arange(b), truncated=CUT.clone(), values=VALUES.clone(),
        extras={"value_mask": VALUE.clone(), "critic_mask": torch.maximum(POLICY, VALUE), "window_truncated": CUT})
    batch.advantages = torch.zeros(b, t)
    batch.returns = torch.tensor([[0, 0.65, 0.8, 1.0, 0], [0, 0, 0, 0, 0]])
    return batch


def test_value_loss_trains_finished_responses_only() -> None:
    trainer = _make(value_clip=None, value_coef=0.5)
    try:
        batch = _hand_batch()
        # the critic's new values: row 0 at positions 1-3, and far-off values on the truncated row
        new_values = torch.tensor([[0, 1.0, 0.5, 0.0, 0], [0, 5.0, 5.0, 0, 0]])
        counts = trainer.loss_counts(batch)
        assert counts == {"num_tokens": 4.0} and trainer.value_counts(counts) == {"num_tokens": 3.0}

        def loss(rows: list[int]) -> tuple[float, float]:
            micro = batch.select(rows)
            scores = TokenScores(logprobs=micro.old_logprobs.clone(), values=new_values[rows][:, :micro.input_ids.shape[1]])
            total, metrics = trainer.objective(scores, micro, counts)
            return float(total), float(metrics["vf_loss"])

        total, vf = loss([0, 1])
        # 0.5 * mean over row 0's 3 tokens of (v - R)^2 = 0.5 * (.35^2 + .3^2 + 1^2) / 3; the truncated row adds 0
        expected = 0.5 * (0.35 ** 2 + 0.3 ** 2 + 1.0) / 3
        assert vf == pytest.approx(expected, rel=1e-6)
        assert total == pytest.approx(0.5 * expected, rel=1e-6)  # value_coef x vf; the policy term is 0 (A = 0)
        # micro-batching gives the same value loss (the counts are the minibatch's)
        assert loss([0])[1] + loss([1])[1] == pytest.approx(expected, rel=1e-6)
        assert loss([1])[1] == 0.0
    finally:
        trainer.close()


class _Recording(TPPOTrainer):
    """Notes every row it trains on, and checks that the old log-probs are the current policy's."""

    rows: list[tuple[tuple[str, int], list[int], list[int], list[float]]]
    finished: list
    max_ratio_error: float

    def build_batch(self, trajectories):
        batch = super().build_batch(trajectories)
        for r in range(len(batch)):
            t = trajectories[int(batch.episode_index[r])]
            n = int(batch.attention_mask[r].sum())
            self.rows.append(((t.task_id, t.sample_index), batch.input_ids[r, :n].tolist(),
                              batch.loss_mask[r, :n].tolist(), batch.old_logprobs[r, :n].tolist()))
        self.finished += [t for t in trajectories if self.is_finished(t)]
        return batch

    def score_batch(self, batch):
        super().score_batch(batch)
        with torch.no_grad():
            now = score_tokens(self.model, batch.input_ids, batch.attention_mask, batch.loss_mask,
                               self.config.temperature).logprobs
        err = float(((now - batch.old_logprobs).abs() * batch.loss_mask).max())
        self.max_ratio_error = max(self.max_ratio_error, err)


def test_windows_pause_episodes_and_train_each_token_once() -> None:
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    trainer = _Recording(tiny_model(tok), KeyEnv, {**BASE, "learning_rate": 3e-3, "steps": 7}, tokenizer=tok)
    trainer.rows, trainer.finished, trainer.max_ratio_error = [], [], 0.0
    try:
        trainer.train()
        history = trainer.history
        assert all(h["updates"] >= 1 for h in history)
        assert all(h["policy_tokens"] <= 4 * 4 for h in history)  # at most W tokens per episode per step
        assert any(h["carried_episodes"] > 0 for h in history) and any(h["new_episodes"] > 0 for h in history[1:])
        # the batch stays full: in flight after each step + finished in it = tasks_per_step (group_size 1)
        for h in history:
            assert h["carried_episodes"] + h["finished_episodes"] == 4
        # every trained token was sampled by the policy being updated (the window's): ratio 1 before the update
        assert trainer.max_ratio_error < 1e-4
        from agentgym.trainers.data import trajectory_views

        spanned = 0
        for traj in trainer.finished:
            key = (traj.task_id, traj.sample_index)
            (view,) = trajectory_views(traj)
            rows = [r for r in trainer.rows if r[0] == key]
            trained = [0] * len(view.input_ids)
            for _, ids, mask, old in rows:
                assert ids == view.input_ids[:len(ids)]  # each window continued the exact token context
                for i, m in enumerate(mask):
                    if m:
                        trained[i] += 1
                        assert old[i] == pytest.approx(view.logprobs[i])  # the recorded log-prob of that token
            assert trained == view.loss_mask  # every policy token trained exactly once, nothing else
            spanned += len(rows) > 1
        assert spanned >= 3, spanned
        # tokens of episodes still in flight: never trained twice either
        for key in {r[0] for r in trainer.rows} - {(t.task_id, t.sample_index) for t in trainer.finished}:
            rows = [r for r in trainer.rows if r[0] == key]
            counts = [sum(r[2][i] for r in rows if i < len(r[2])) for i in range(max(len(r[2]) for r in rows))]
            assert max(counts) <= 1
        # a turn longer than the window was cut mid-turn and continued (6 > 4 new tokens)
        assert any(len(turn.token_ids or ()) > 4 for t in trainer.finished for turn in t.turns)
    finally:
        trainer.close()


def test_tppo_learns_with_turns_longer_than_the_window() -> None:
    """The 2-turn key env, turns of up to 6 tokens in windows of 3: most episodes span several steps."""
    torch.set_num_threads(1)
    trainer = _make(steps=50, tasks_per_step=32, learning_rate=3e-3, window_tokens=3)
    try:
        before = trainer.evaluate(n=64, temperature=1.0)["success"]
        trainer.train()
        after = trainer.evaluate(n=64, temperature=1.0)["success"]
        assert before < 0.2 and after > 0.7, (before, after, trainer.history[-1])
        assert sum(h["carried_episodes"] for h in trainer.history) > 50 * 8  # windows really cut episodes
        assert trainer.history[-1]["value_mean"] > 0.5  # the critic learned that episodes now earn ~1.2
    finally:
        trainer.close()


def test_separate_critic_two_steps_and_close() -> None:
    torch.set_num_threads(1)
    trainer = _make(critic="separate", steps=2, window_tokens=3)
    trainer.train()
    assert len(trainer.history) == 2
    for h in trainer.history:
        for key in ("vf_loss", "window", "finished_episodes", "carried_episodes", "critic_grad_norm"):
            assert key in h, key
        assert torch.isfinite(torch.tensor(h["loss"]))
    runner = trainer.runner
    trainer.close()
    assert runner.loop.is_closed() and not runner.slots


def test_stop_string_across_a_window_boundary() -> None:
    tok = tiny_tokenizer()
    ids = tok("a key seven b", add_special_tokens=False)["input_ids"]  # a, " ", key, " ", seven, " ", b
    assert len(ids) == 7
    assert stop_across_boundary(tok, ids, 3, ["key seven"]) == 5  # begins before the boundary, ends at "seven"
    assert stop_across_boundary(tok, ids, 6, ["key seven"]) is None  # ended before the piece: not this check's
    assert stop_across_boundary(tok, ids, 0, ["key seven"]) is None  # a first piece checks its own stops
    assert stop_across_boundary(tok, ids, 3, []) is None


def test_run_file_and_config() -> None:
    spec = load_run_spec(ROOT / "examples/configs/tppo_arithmetic.yaml")
    assert spec.trainer == "tppo" and TRAINERS["tppo"] is TPPOTrainer
    assert isinstance(spec.config, TPPOConfig) and spec.config.window_tokens < spec.config.max_new_tokens
    with pytest.raises(ConfigError) as e:
        TPPOConfig(window_tokens=0)
    assert e.value.field == "window_tokens"
    with pytest.raises(ConfigError) as e:
        TPPOConfig(dynamic_sampling=True, group_size=4)
    assert e.value.field == "dynamic_sampling"


def test_tppo_refuses_rollout_workers_and_data_parallelism(monkeypatch) -> None:
    from agentgym.trainers import UnsupportedSetup

    tok = tiny_tokenizer()
    with pytest.raises(UnsupportedSetup, match="rollout_workers=0"):
        TPPOTrainer(tiny_model(tok), KeyEnv, TPPOConfig(report_to=[]), tokenizer=tok, rollout_workers=2)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UnsupportedSetup, match="without torchrun"):
        TPPOTrainer(tiny_model(tok), KeyEnv, TPPOConfig(report_to=[]), tokenizer=tok)
