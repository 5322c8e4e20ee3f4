"""A trainer on `WebShop-v0` through the browserless backend: a short CPU GRPO run with a tiny random model and
the SmolLM2 tokenizer, whose episodes met the shop's pages and whose rows are the exact token contexts the
policy was prompted with."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import torch
from agentgym.trainers import GRPOConfig, GRPOTrainer, trajectory_views

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainers"))
from _tiny_rl import smollm2_tokenizer, tiny_model

ENV_KWARGS = {"backend": "http", "max_turns": 2, "obs_max_chars": 1500, "sizes": {"train": 50, "test": 50}}


def test_grpo_trains_on_webshop_over_http() -> None:
    tok = smollm2_tokenizer()
    model = tiny_model(tok, seed=0, hidden=32, layers=1)
    model.config.max_position_embeddings = 8192
    cfg = GRPOConfig(steps=2, tasks_per_step=2, group_size=2, max_new_tokens=12, max_length=4096,
                     temperature=1.0, report_to=[], learning_rate=1e-3, skip_zero_advantages=False)
    trainer = GRPOTrainer(model, "WebShop-v0", cfg, tokenizer=tok, env_kwargs=ENV_KWARGS)
    try:
        assert trainer.train_tasks and all(t.startswith("train-") for t in trainer.train_tasks)
        history = trainer.train()
        # an untrained model buys nothing (reward 0, advantages 0), but every stage of the step runs
        assert len(history) == 2 and all(m["episodes"] == 4 and m["updates"] == 1 for m in history)
        assert all(torch.isfinite(torch.tensor(m["loss"])) and m["policy_tokens"] > 0 for m in history)
        groups = asyncio.run(trainer.rollout(trainer.train_tasks[:1], group_size=1))
        traj = groups[0][0]
        # the episode saw the shop: the goal and the page's text are in the first observation
        first = traj.messages[1]["content"]
        assert first.startswith("Goal: ") and "# Current page\n" in first and "textbox 'Search'" in first
        assert traj.turns and traj.reward == 0.0
        # the trainer's row is the exact token context the engine was prompted with, turn by turn
        (view,) = trajectory_views(traj)
        expected = [i for turn in traj.turns for i in [*turn.context_ids, *turn.token_ids]]
        assert view.input_ids == expected
    finally:
        for env in trainer._envs:
            env.close()
