"""Checkpoint and resume: a run SIGKILLed mid-save and resumed continues exactly like an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _ckpt_common import make_trainer
from agentgym.trainers.checkpoint import atomic_directory, latest_checkpoint, list_checkpoints

HERE = Path(__file__).parent
COMPARED = ("pg_loss", "loss", "reward", "success", "grad_norm", "lr", "approx_kl", "entropy", "policy_tokens")


def _start_helper(out: Path, marker: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(HERE / "_ckpt_run.py"), str(out), str(marker)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_sigkill_mid_save_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    out, marker = tmp_path / "run", tmp_path / "midsave"
    proc = _start_helper(out, marker)  # run B starts first: it overlaps with run A below
    try:
        torch.set_num_threads(1)
        a = make_trainer()
        a.train()
        assert a.step == 3
        deadline = time.monotonic() + 180
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"helper exited early: {proc.stdout.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "helper never reached step 3's checkpoint"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # mid-save of step 3: model written, optimizer not yet
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # the half-written checkpoint is invisible; step 2's is complete (keep_last=2 pruned nothing yet)
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-000001", "checkpoint-000002"]
    assert list(out.glob(".checkpoint-000003.tmp-*")), "expected the killed save's temporary directory"
    assert latest_checkpoint(out).name == "checkpoint-000002"

    # resume in this process from a differently initialized model: everything must come from the checkpoint
    b = make_trainer(model_seed=123, output_dir=str(out), checkpoint_every=1, resume=True)
    assert b.step == 2 and b.resumed_from == out / "checkpoint-000002"
    assert len(b.history) == 2
    b.train()
    assert b.step == 3
    for key in COMPARED:
        assert b.history[2][key] == pytest.approx(a.history[2][key], abs=1e-5), key
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, atol=1e-5, rtol=0)
    # step 3 saved atomically over the stale temporary directory; keep_last=2 pruned step 1
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-000002", "checkpoint-000003"]
    assert not list(out.glob(".checkpoint-*"))


def test_checkpoint_round_trip_restores_every_part(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    a = make_trainer(output_dir=str(tmp_path))
    a.train(steps=1)
    path = a.save_checkpoint()
    assert sorted(p.name for p in path.iterdir()) == ["model", "optimizer.pt", "rng.pt", "scheduler.pt",
                                                       "trainer_state.json"]
    b = make_trainer(model_seed=7, resume_from=str(path))
    for (name, pa), pb in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb), name
    assert b.scheduler.state_dict() == a.scheduler.state_dict()
    assert b.optimizer.param_groups[0]["lr"] == a.optimizer.param_groups[0]["lr"]
    sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    assert b.sampler.order == a.sampler.order and b.sampler.rng.getstate() == a.sampler.rng.getstate()
    assert torch.equal(b.engine._generator.get_state(), a.engine._generator.get_state())
    assert b.sampler.next(3) == a.sampler.next(3)
    # with no config, the checkpoint's config is used
    from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
    from agentgym.trainers import GRPOTrainer

    tok = tiny_tokenizer()
    c = GRPOTrainer(tiny_model(tok, seed=9), KeyEnv, tokenizer=tok, resume_from=str(tmp_path))
    assert c.config == a.config and c.step == 1


def test_atomic_directory_keeps_the_old_copy_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint-000001"
    with atomic_directory(target) as tmp:
        (tmp / "trainer_state.json").write_text("{}")
        (tmp / "a").write_text("first")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "a").write_text("half")
        raise RuntimeError("killed")
    assert (target / "a").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-000001"]
    with atomic_directory(target) as tmp:  # saving the same step again replaces it whole
        (tmp / "trainer_state.json").write_text("{}")
        (tmp / "a").write_text("second")
    assert (target / "a").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-000001"]


def test_resume_without_a_checkpoint(tmp_path: Path) -> None:
    # resume=True on an empty output_dir starts fresh; an explicit resume_from must exist
    t = make_trainer(output_dir=str(tmp_path), resume=True)
    assert t.step == 0 and t.resumed_from is None
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        make_trainer(resume_from=str(tmp_path))
