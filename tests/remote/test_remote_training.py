"""A short GRPO run whose episodes all play on an `agentgym serve-env` server (tiny random model, CPU)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import torch
from agentgym.trainers import GRPOConfig, GRPOTrainer

from agentgym.remote import RemoteEnv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainers"))
from _tiny_rl import tiny_model, tiny_tokenizer


def test_grpo_trains_through_a_remote_env(server):
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=0, hidden=32, layers=1)
    model.config.max_position_embeddings = 4096
    cfg = GRPOConfig(steps=2, tasks_per_step=2, group_size=2, max_new_tokens=6, max_length=2048, temperature=1.0,
                     report_to=[], learning_rate=1e-3, skip_zero_advantages=False, log_every=0)
    with GRPOTrainer(model, server.url, cfg, tokenizer=tok) as trainer:
        env = trainer._envs[0]
        assert isinstance(env, RemoteEnv)
        assert trainer.train_tasks[:2] == ["train-0", "train-1"] and len(trainer.train_tasks) == 100_000
        history = trainer.train()
        assert len(history) == 2 and all(m["episodes"] == 4 and m["updates"] == 1 for m in history)
        assert all(torch.isfinite(torch.tensor(m["loss"])) and m["policy_tokens"] > 0 for m in history)
        # the episodes ran on the server: each one is a server episode held by one of the trainer's envs
        assert httpx.get(f"{server.base}/health").json()["episodes"] == len(trainer._envs)
        assert trainer.evaluate(n=2)["n"] == 2
        for e in trainer._envs:
            e.close()
    assert httpx.get(f"{server.base}/health").json()["episodes"] == 0


def test_run_files_take_remote_env_ids(server):
    """`env: remote:...` in an `agentgym train` run file resolves to a RemoteEnv; a dead server or env
    arguments (fixed on the server) are config errors naming the env field."""
    import pytest
    from agentgym.trainers.config import ConfigError
    from agentgym.trainers.registry import resolve_env

    env = resolve_env(server.url)
    try:
        assert isinstance(env, RemoteEnv)
        assert env.reset(options={"task_id": "test-0"})[1]["task_id"] == "test-0"
    finally:
        env.close()
    with pytest.raises(ConfigError, match="env-arg"):
        resolve_env(server.url, {"difficulty": 3})
    with pytest.raises(ConfigError, match="cannot reach"):
        resolve_env("remote:http://127.0.0.1:9/Arithmetic-v0")
