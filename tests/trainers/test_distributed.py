"""Data-parallel training (`agentgym.trainers.distributed`): real torch.distributed processes on CPU (gloo).

- 2 ranks x B/2 rows make the same update as 1 process x B rows (FSDP2-sharded policy, loss normalized by
  the global token count, gradients summed; torchrun with 1 rank equals the plain process bit for bit),
  and every rank's rollout engine (the HF replica and a `VLLMEngine` around a stand-in for `vllm.LLM`)
  holds the gathered weights after the sync.
- `agentgym train` (DAPO: dynamic sampling rounds agreed over the ranks) under `torchrun --nproc_per_node 2`:
  checkpoints, and a run resumed from step 1 writes the same step-2 checkpoint (weights, optimizer, data
  position, metrics) as the uninterrupted run.
- rollout sharding: disjoint task sets that cover the step's tasks; metric and optimizer-state reductions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from _tiny_rl import tiny_model, tiny_tokenizer
from agentgym.trainers.algorithms.filters import dynamic_sampling
from agentgym.trainers.distributed import (
    DistContext,
    full_optimizer_state,
    load_full_optimizer_state,
    reduce_step_metrics,
    shard,
)
from agentgym.trainers.episodes import TaskSampler

HERE = Path(__file__).parent
REPO = HERE.parent.parent
# the weights after two AdamW steps at lr 1e-2 move by ~2e-2; 1 and 2 ranks sum the same gradients in a
# different order (float32 rounding ~1e-7), which Adam's normalization turns into differences of ~3e-5
WEIGHT_ATOL = 2e-4


def _launch(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run a command in its own process group; on timeout kill that group (torchrun and its workers)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{args} timed out after {timeout} s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _torchrun(n: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", *args]


# ---------------------------------------------------------------------- pure parts


def test_shards_are_disjoint_and_cover_each_step() -> None:
    samplers = [TaskSampler([f"t{i}" for i in range(14)], seed=3) for _ in range(3)]  # one per rank, same seed
    for _ in range(6):  # steps over three passes
        drawn = [s.next(7) for s in samplers]
        assert drawn[0] == drawn[1] == drawn[2]  # the same data position on every rank
        assert len(set(drawn[0])) == 7
        shares = [shard(drawn[r], r, 3) for r in range(3)]
        assert sorted(t for s in shares for t in s) == sorted(drawn[0])  # together: the step's tasks
        assert all(set(a).isdisjoint(b) for i, a in enumerate(shares) for b in shares[i + 1:])
        assert sorted(len(s) for s in shares) == [2, 2, 3]
    assert shard(["a", "b"], 0, 1) == ["a", "b"]
    with pytest.raises(ValueError):
        shard(["a"], 2, 2)


def test_single_process_context_reduces_to_its_input() -> None:
    ctx = DistContext()
    assert not ctx.is_distributed and ctx.is_main
    assert ctx.sum([3, 1.5]) == [3.0, 1.5] and ctx.max([2]) == [2.0]
    assert ctx.gather_objects({"a": 1}) == [{"a": 1}]
    assert ctx.shard([1, 2, 3]) == [1, 2, 3]


def test_step_metrics_reduce_over_ranks() -> None:
    ranks = [{"step": 3, "reward": 1.0, "episodes": 6, "policy_tokens": 40, "step_seconds": 2.0, "lr": 1e-3},
             {"step": 3, "reward": 0.0, "episodes": 2, "policy_tokens": 10, "step_seconds": 3.0, "lr": 1e-3}]
    out = reduce_step_metrics(ranks)
    assert out["reward"] == pytest.approx(0.75)  # per-episode mean over all 8 episodes
    assert out["episodes"] == 8 and out["policy_tokens"] == 50 and out["step"] == 3
    assert out["step_seconds"] == 3.0 and out["lr"] == pytest.approx(1e-3)


def test_dynamic_sampling_counts_groups_kept_on_all_ranks() -> None:
    import asyncio

    asked: list[int] = []

    async def sample(n: int) -> list[list[float]]:
        asked.append(n)
        return [[0.0, 1.0]] * ((n + 1) // 2)  # this rank plays its half, all informative

    # two ranks that keep the same: the global count is twice this rank's
    result = asyncio.run(dynamic_sampling(sample, float, 8, max_rounds=5, global_count=lambda n: 2 * n))
    assert asked == [8] and len(result.groups) == 4


def test_full_optimizer_state_round_trip_single_process() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    full = full_optimizer_state(opt, DistContext())
    assert full is not None and set(full["state"]) == {0, 1}
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    load_full_optimizer_state(opt2, full)
    for a, b in zip(opt.state_dict()["state"].values(), opt2.state_dict()["state"].values(), strict=True):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


# ---------------------------------------------------------------------- real processes


def test_two_ranks_make_the_same_update_as_one(tmp_path: Path) -> None:
    one = _launch([sys.executable, str(HERE / "_dp_run.py"), str(tmp_path / "one")], cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    fsdp1 = _launch(_torchrun(1, str(HERE / "_dp_run.py"), str(tmp_path / "fsdp1")), cwd=tmp_path)
    assert fsdp1.returncode == 0, fsdp1.stderr[-3000:]
    two = _launch(_torchrun(2, str(HERE / "_dp_run.py"), str(tmp_path / "two")), cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    a = torch.load(tmp_path / "one" / "result.pt", weights_only=False)
    b = torch.load(tmp_path / "two" / "result.pt", weights_only=False)
    c = torch.load(tmp_path / "fsdp1" / "result.pt", weights_only=False)
    # torchrun with 1 rank: the FSDP2 path on a world of one is the single-process trainer, bit for bit
    assert c["world_size"] == 1 and c["rows"] == [20] and c["vllm_errors"] == [0.0]
    for k in a["updated"]:
        assert torch.equal(c["updated"][k], a["updated"][k]), k
    assert (a["world_size"], b["world_size"]) == (1, 2)
    assert a["rows"] == [20] and b["rows"] == [12, 8]  # unequal shares: rank 1 runs an idle micro-batch pass
    assert a["initial"].keys() == b["initial"].keys()
    for k in a["initial"]:
        assert torch.equal(a["initial"][k], b["initial"][k]), k
    moved = max((a["updated"][k] - a["initial"][k]).abs().max().item() for k in a["initial"])
    assert moved > 50 * WEIGHT_ATOL  # the step changed the weights, so equal weights are no accident
    for k in a["updated"]:
        torch.testing.assert_close(b["updated"][k], a["updated"][k], atol=WEIGHT_ATOL, rtol=0, msg=k)
    for key in ("loss", "pg_loss", "grad_norm", "clipfrac", "entropy", "approx_kl", "reward", "policy_tokens"):
        assert b["metrics"][key] == pytest.approx(a["metrics"][key], rel=1e-5), key
    assert b["metrics"]["updates"] == a["metrics"]["updates"] == 2
    # rank 0's rollout engine replica holds the gathered weights after the sync; so does each rank's vLLM stand-in
    for k, v in b["engine"].items():
        assert torch.equal(v, b["updated"][k]), k
    assert b["vllm_errors"] == [0.0, 0.0] and a["vllm_errors"] == [0.0]


def _run_yaml(tmp_path: Path, out: Path) -> Path:
    model_dir = tmp_path / "tiny"
    if not model_dir.exists():
        tok = tiny_tokenizer()
        tiny_model(tok).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
    data = {"trainer": "dapo", "model": str(model_dir), "env": "_tiny_rl:KeyEnv", "env_kwargs": {"n_tasks": 16},
            "steps": 2, "tasks_per_step": 4, "group_size": 4, "max_new_tokens": 4, "max_length": 64,
            "learning_rate": 3e-3, "micro_batch_size": 4, "output_dir": str(out), "checkpoint_every": 1,
            "keep_last": 5, "report_to": ["console"], "device": "cpu"}
    path = tmp_path / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_under_torchrun_checkpoints_and_resumes(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    full = tmp_path / "full"
    proc = _launch(_torchrun(2, "-m", "agentgym.cli", "train", str(_run_yaml(tmp_path, full))), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("agentgym train: dapo") == 1 and "on 2 data-parallel ranks" in proc.stdout
    assert "step 2/2" in proc.stdout
    # resume from step 1's checkpoint in a second 2-rank job
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(full / "checkpoint-000001", resumed / "checkpoint-000001")
    proc = _launch(_torchrun(2, "-m", "agentgym.cli", "train", str(_run_yaml(tmp_path, resumed)), "--resume"),
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "checkpoint-000001 at step 1" in proc.stdout
    a, b = full / "checkpoint-000002", resumed / "checkpoint-000002"
    wa, wb = load_file(a / "model" / "model.safetensors"), load_file(b / "model" / "model.safetensors")
    assert wa.keys() == wb.keys() and "model.embed_tokens.weight" in wa
    first = load_file(full / "checkpoint-000001" / "model" / "model.safetensors")
    assert any(not torch.equal(first[k], wa[k]) for k in wa)  # step 2 trained
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], atol=1e-6, rtol=0, msg=k)
    oa, ob = (torch.load(p / "optimizer.pt", weights_only=False) for p in (a, b))
    assert oa["state"].keys() == ob["state"].keys()
    for i in oa["state"]:
        torch.testing.assert_close(ob["state"][i]["exp_avg_sq"], oa["state"][i]["exp_avg_sq"], atol=1e-9, rtol=1e-5)
    sa, sb = (json.loads((p / "trainer_state.json").read_text()) for p in (a, b))
    assert sa["step"] == sb["step"] == 2 and sa["world_size"] == 2
    assert sa["sampler"] == sb["sampler"]  # the data position
    assert len(sa["history"]) == len(sb["history"]) == 2
    for key in ("reward", "episodes", "policy_tokens", "loss", "grad_norm"):
        assert sb["history"][1][key] == pytest.approx(sa["history"][1][key], rel=1e-5, abs=1e-7), key
    # every sampled group's 4 episodes, from both ranks (DAPO may sample more groups than the 4 it keeps)
    step2 = sa["history"][1]
    assert step2["episodes"] == 4 * step2["sampled_groups"] >= 16
    rng = torch.load(a / "rng.pt", weights_only=False)
    assert len(rng["ranks"]) == 2
