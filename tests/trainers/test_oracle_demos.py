"""Oracle demonstrations as warm-start data: `agentgym demos` writes chat SFT records that `trainer: sft` trains on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from _tiny_rl import tiny_tokenizer
from agentgym.envs.arithmetic.env import ArithmeticEnv
from agentgym.trainers.lm_data import read_chat_file

import agentgym
from agentgym.cli import main
from agentgym.oracles import NoOracleError, oracle_demonstrations, oracle_policy, register_oracle, sft_rows


def test_cli_demos_then_sft(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demos = tmp_path / "demos.jsonl"
    assert main(["demos", "Arithmetic-v0", "--episodes", "4", "--out", str(demos), "--no-progress",
                 "--env-arg", "protocol=tags"]) == 0
    assert "solved 4/4 train tasks -> 4 SFT records" in capsys.readouterr().out
    rows = [json.loads(line) for line in demos.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == [f"train-{i}" for i in range(4)]
    for r in rows:  # the calculator call, its result, then the answer
        said = [m["content"] for m in r["messages"] if m["role"] == "assistant"]
        assert len(said) == 2 and "<calculator>" in said[0] and "<answer>" in said[1]
    assert len(read_chat_file(demos)) == 4  # what `trainer: sft` reads

    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    model_dir = tmp_path / "tiny"
    LlamaForCausalLM(cfg).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    run = {"trainer": "sft", "model": str(model_dir), "data": str(demos), "epochs": 2, "learning_rate": 3e-3,
           "micro_batch_size": 2, "max_length": 4096, "log_every": 1, "output_dir": str(tmp_path / "run")}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    assert main(["train", str(tmp_path / "run.yaml")]) == 0
    result = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert result["steps"] == 4 and result["last_loss"] < result["first_loss"]


def test_workspace_demos_give_one_record_per_round() -> None:
    env = agentgym.make("EAPO-MultiHopQA-v0", hops=2, n_docs=2000)
    trajs = oracle_demonstrations(env, ["train-0", "train-1"])
    env.close()
    rows = sft_rows(trajs, "EAPO-MultiHopQA-v0")
    assert len(rows) == 6  # 3 rounds each, every round its own prompt
    for r in rows:
        assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
        assert r["messages"][-1]["content"].startswith("<report>")


def test_failed_episodes_are_not_demonstrations() -> None:
    env = agentgym.make("Arithmetic-v0", protocol="tags")
    trajs = oracle_demonstrations(env, ["train-0", "train-1"])
    env.close()
    trajs[0].success = False
    assert [r["task_id"] for r in sft_rows(trajs)] == ["train-1"]


def test_env_without_an_oracle(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env = agentgym.make("HumanEval-v0")
    with pytest.raises(NoOracleError, match="HumanEvalEnv has no oracle; envs with one: ArithmeticEnv"):
        oracle_policy(env)
    env.close()
    assert main(["demos", "HumanEval-v0", "--out", str(tmp_path / "x.jsonl"), "--no-progress"]) == 2
    assert "has no oracle" in capsys.readouterr().err


def test_registered_oracle_covers_subclasses() -> None:
    class Sub(ArithmeticEnv):
        pass

    class Always:
        def __init__(self, env: ArithmeticEnv) -> None:
            self.env = env

        def __call__(self, messages: list) -> str:
            return "<answer>0</answer>"

    assert type(oracle_policy(Sub(protocol="tags"))).__name__ == "ArithmeticOracle"  # the parent's
    register_oracle(Sub, Always)
    try:
        assert isinstance(oracle_policy(Sub(protocol="tags")), Always)
    finally:
        from agentgym.oracles import ORACLES

        ORACLES.pop(f"{Sub.__module__}:{Sub.__qualname__}")
