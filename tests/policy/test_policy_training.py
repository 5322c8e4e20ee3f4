"""A trainer on `PolicyDoc-v0` with the scripted user: a short CPU run whose rows are the exact sequences the
policy was prompted with, and whose episodes went through the simulated user and the database tools."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from agentgym.trainers import GRPOConfig, GRPOTrainer, trajectory_views

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainers"))
from _tiny_rl import smollm2_tokenizer, tiny_model

ENV_KWARGS = {"domain": "retail", "env_level": 1, "task_level": 1, "workflow_level": 2, "query_level": 1,
              "num_tasks": 8, "max_turns": 3}


def test_grpo_trains_on_policydoc_with_the_scripted_user():
    tok = smollm2_tokenizer()
    model = tiny_model(tok, seed=0, hidden=32, layers=1)
    model.config.max_position_embeddings = 8192
    cfg = GRPOConfig(steps=2, tasks_per_step=2, group_size=2, max_new_tokens=12, max_length=4096,
                     temperature=1.0, report_to=[], learning_rate=1e-3, skip_zero_advantages=False)
    trainer = GRPOTrainer(model, "PolicyDoc-v0", cfg, tokenizer=tok, env_kwargs=ENV_KWARGS)
    assert trainer.train_tasks and all(t in trainer._envs[0].tasks.ids("train") for t in trainer.train_tasks)
    history = trainer.train()
    # an untrained model earns 0 everywhere (so the advantages are 0), but every stage of the step runs
    assert len(history) == 2 and all(m["episodes"] == 4 and m["updates"] == 1 for m in history)
    assert all(torch.isfinite(torch.tensor(m["loss"])) and m["policy_tokens"] > 0 for m in history)
    # the episodes met the simulated user (its opening is the first user message) and were graded
    groups = __import__("asyncio").run(trainer.rollout(trainer.train_tasks[:1], group_size=1))
    traj = groups[0][0]
    assert traj.messages[0]["role"] == "system" and "Policy version" in traj.messages[0]["content"]
    assert traj.messages[-1]["role"] == "user" and traj.messages[-1]["content"]
    assert set(traj.reward_components) >= {"r_actions", "r_outputs"}
    # the trainer's row is the exact token context the engine was prompted with, turn by turn
    (view,) = trajectory_views(traj)
    expected = [i for turn in traj.turns for i in [*turn.context_ids, *turn.token_ids]]
    assert view.input_ids == expected
    assert trainer.evaluate(n=2)["n"] == 2  # held-out "test" tasks
