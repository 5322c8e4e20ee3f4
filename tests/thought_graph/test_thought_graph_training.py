"""A trainer on the thought-graph env: the policy agent is trained while the reasoner stays fixed inside the env.
A warm start clones the Graph of Thoughts schedule's demonstrations (message-level, through the chat template),
then GRPO runs; its rows are the exact sequences the policy was prompted with."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import torch
from agentgym.envs.thought_graph import schedule_agent
from agentgym.trainers import GRPOConfig, GRPOTrainer, trajectory_views

from agentgym.rollout import collect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainers"))
from _tiny_rl import smollm2_tokenizer, tiny_model

ENV = "thought_graph.sorting32-v0"
ENV_KWARGS = {"compact": True, "max_turns": 4}


def test_grpo_trains_the_policy_over_the_programmatic_reasoner():
    tok = smollm2_tokenizer()
    model = tiny_model(tok, seed=0, hidden=32, layers=1)
    model.config.max_position_embeddings = 8192
    cfg = GRPOConfig(steps=2, tasks_per_step=2, group_size=2, max_new_tokens=16, max_length=8192,
                     temperature=1.0, report_to=[], learning_rate=1e-3, skip_zero_advantages=False)
    trainer = GRPOTrainer(model, ENV, cfg, tokenizer=tok, env_kwargs=ENV_KWARGS)
    assert all(t.startswith("train-") for t in trainer.train_tasks)

    # warm start on the GoT schedule's successful demonstrations (full episodes, so more turns than RL allows)
    demos = collect(ENV, schedule_agent("got", size=32), ["train-0", "train-1"], progress=False,
                    env_kwargs={"compact": True})
    assert any(d.success for d in demos)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    reports: list[tuple[int, int, float]] = []
    stats = trainer.warm_start(demos, epochs=2, learning_rate=1e-3, on_log=lambda *r: reports.append(r))
    assert stats["demos"] == sum(d.success for d in demos) and stats["demo_tokens"] > 0
    assert reports and reports[-1][0] == reports[-1][1]  # progress reported, the last at the last step
    assert stats["demo_nll_last"] < stats["demo_nll_first"]  # cloning lowers the demonstrations' NLL
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())

    history = trainer.train()
    assert len(history) == 2 and all(m["episodes"] == 4 and m["updates"] == 1 for m in history)
    assert all(torch.isfinite(torch.tensor(m["loss"])) and m["policy_tokens"] > 0 for m in history)
    groups = asyncio.run(trainer.rollout(trainer.train_tasks[:1], group_size=1))
    traj = groups[0][0]
    assert "graph" in traj.info and traj.info["reasoner_usage"]["calls"] >= 0
    (view,) = trajectory_views(traj)
    assert view.input_ids == [i for turn in traj.turns for i in [*turn.context_ids, *turn.token_ids]]
    assert trainer.evaluate(n=2)["n"] == 2
