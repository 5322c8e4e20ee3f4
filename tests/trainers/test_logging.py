"""Metric sinks: TensorBoard event files hold the per-step scalars, W&B offline writes a run, console prints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import GRPOTrainer
from agentgym.trainers.logging import ConsoleSink, MetricLogger, make_logger, scalars, tag

BASE = dict(steps=2, learning_rate=3e-3, group_size=4, tasks_per_step=4, max_new_tokens=4, max_length=64,
            micro_batch_size=16, seed=0, kl_coef=0.05)  # with KL, so the kl scalar exists

EXPECTED_TAGS = ["train/reward", "train/success", "train/kl", "train/approx_kl", "train/entropy", "train/clipfrac",
                 "train/grad_norm", "train/response_length", "train/tool_calls", "train/tokens_per_second",
                 "train/lr", "time/rollout", "time/train", "time/sync"]


def _trainer(log=None, **overrides) -> GRPOTrainer:
    tok = tiny_tokenizer()
    return GRPOTrainer(tiny_model(tok), KeyEnv, {**BASE, **overrides}, tokenizer=tok, log=log)


def test_tensorboard_event_files_hold_the_step_scalars(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.set_num_threads(1)
    with _trainer(report_to=["tensorboard"], output_dir=str(tmp_path)) as trainer:
        history = trainer.train()
    log_dir = tmp_path / "tensorboard"
    assert list(log_dir.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    missing = [t for t in EXPECTED_TAGS if t not in tags]
    assert not missing, (missing, sorted(tags))
    rewards = acc.Scalars("train/reward")
    assert [e.step for e in rewards] == [1, 2]
    assert [e.value for e in rewards] == pytest.approx([h["reward"] for h in history], abs=1e-6)
    assert acc.Scalars("time/rollout")[0].value == pytest.approx(history[0]["rollout_seconds"], rel=1e-5)


def test_wandb_offline_run_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    torch.set_num_threads(1)
    with _trainer(steps=1, report_to=["wandb"], wandb_mode="offline", output_dir=str(tmp_path),
                  run_name="tiny") as trainer:
        trainer.train()
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list(tmp_path.rglob("*"))[:20]
    assert list(runs[0].glob("run-*.wandb")), "the offline run has no data file"


def test_missing_wandb_is_a_clear_error_before_any_rollout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    made = []

    class CountingEnv(KeyEnv):
        async def areset(self, **kw):
            made.append(1)
            return await super().areset(**kw)

    tok = tiny_tokenizer()
    with pytest.raises(ImportError, match="pip install wandb"):
        GRPOTrainer(tiny_model(tok), CountingEnv, {**BASE, "report_to": ["wandb"]}, tokenizer=tok)
    assert made == []


def test_console_line_and_callback_sink(capsys: pytest.CaptureFixture[str]) -> None:
    sink = ConsoleSink(total_steps=10)
    line = sink.format({"reward": 0.5, "success": 0.25, "grad_norm": 1.5, "rollout_seconds": 2.0,
                        "train_seconds": 1.0, "sync_seconds": 0.0, "note": "x"}, 3)
    assert "step  3/10" in line and "reward [cyan]0.500" in line and "success [cyan]25.0%" in line
    assert "rollout 2.00s train 1.00s sync 0.00s" in line
    seen = []
    torch.set_num_threads(1)
    trainer = _trainer(steps=1, log=seen.append)  # a callback replaces the console sink
    trainer.train()
    assert len(seen) == 1 and seen[0]["step"] == 1
    assert "step" not in capsys.readouterr().out
    trainer = _trainer(steps=1)
    trainer.train()
    assert "step 1/1" in capsys.readouterr().out


def test_helpers() -> None:
    assert scalars({"a": 1, "b": True, "c": "x", "d": float("nan"), "e": 2.5}) == {"a": 1.0, "b": 1.0, "e": 2.5}
    assert tag("reward") == "train/reward" and tag("eval_success") == "eval/success"
    assert tag("rollout_seconds") == "time/rollout" and tag("custom/x") == "custom/x"
    assert isinstance(make_logger([]), MetricLogger)
    with pytest.raises(ValueError, match="output_dir"):
        make_logger(["tensorboard"])
