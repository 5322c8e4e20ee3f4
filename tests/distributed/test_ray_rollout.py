"""Rollout workers as Ray actors: same results as in-process, dead workers replaced, a trainer on workers.

One local Ray instance with 2 CPUs serves the whole module (Ray takes a few seconds to start).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import ray  # in the test extra: a missing Ray is a failure, not a skip
from _ray_helpers import DyingAgent, UnreachableAgent, reply, solver_server

from agentgym.agents import FunctionAgent
from agentgym.distributed import RayRolloutPool
from agentgym.distributed.ray_rollout import check_address
from agentgym.eval import evaluate
from agentgym.rollout import acollect
from agentgym.trajectory import TrajectoryStore, load_trajectories

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TRAINER_TESTS = ROOT / "tests" / "trainers"
TIMING = ("seconds", "started_at", "agent_seconds", "env_seconds", "latency")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance (2 CPUs) whose workers can import the test helpers; yields its GCS address."""
    path = os.pathsep.join([str(HERE), str(TRAINER_TESTS), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _strip(d: dict) -> dict:
    """A trajectory dict without wall-clock fields."""
    out = {k: v for k, v in d.items() if k not in TIMING}
    out["turns"] = [{k: v for k, v in t.items() if k not in TIMING} for t in d["turns"]]
    return out


def test_eval_on_two_workers_equals_in_process(ray_cluster, tmp_path) -> None:
    agent = FunctionAgent(reply, name="partial")
    local = asyncio.run(evaluate("Arithmetic-v0", agent, episodes=8, k=2, out_dir=tmp_path / "local",
                                 progress=False, seed=3))
    pool = RayRolloutPool("Arithmetic-v0", agent, 2, concurrency=3)
    try:
        remote = asyncio.run(evaluate("Arithmetic-v0", pool, episodes=8, k=2, out_dir=tmp_path / "ray",
                                      progress=False, seed=3))
        info = pool.worker_info()
    finally:
        pool.close()
    assert all(w["episodes"] > 0 for w in info), info  # both workers played
    a = load_trajectories(tmp_path / "local" / "trajectories.jsonl")
    b = load_trajectories(tmp_path / "ray" / "trajectories.jsonl")
    assert len(a) == len(b) == 16
    # same episodes, seeds, conversations and rewards (stored in finishing order: compare by episode key)
    by_key = {t.episode_id: _strip(t.to_dict()) for t in b}
    assert {t.episode_id: _strip(t.to_dict()) for t in a} == by_key
    assert 0 < local.success_rate < 1  # the partial solver is right on some tasks only
    skip = {"mean_episode_seconds", "mean_agent_seconds_per_turn"}
    a_sum, b_sum = ({k: v for k, v in json.loads((tmp_path / d / "summary.json").read_text()).items()
                     if k not in skip} for d in ("local", "ray"))
    assert a_sum == b_sum
    assert remote.success_rate == local.success_rate


def test_dead_worker_is_replaced_and_its_episodes_rerun_exactly_once(ray_cluster, tmp_path) -> None:
    marker = tmp_path / "died"
    agent = DyingAgent(str(marker), task_id="test-5", delay=0.05)
    store = TrajectoryStore(tmp_path / "trajectories.jsonl")
    pool = RayRolloutPool("Arithmetic-v0", agent, 2, concurrency=4)
    try:
        before = {w["index"]: w["pid"] for w in pool.worker_info()}
        trajs = asyncio.run(acollect("Arithmetic-v0", pool, num_tasks=12, group_size=2, store=store,
                                     progress=False))
        after = {w["index"]: w for w in pool.worker_info()}
        # resumable as in-process: a rerun over the same store plays only the 2 new tasks' episodes
        more = asyncio.run(acollect("Arithmetic-v0", pool, num_tasks=14, group_size=2, store=store,
                                    progress=False))
        played = sum(w["episodes"] for w in pool.worker_info()) - sum(w["episodes"] for w in after.values())
    finally:
        pool.close()
        store.close()
    dead = int(marker.read_text().split()[0])
    assert dead in before.values()
    assert pool.replacements == 1 and pool.rerun_jobs >= 1
    (slot,) = [i for i, pid in before.items() if pid == dead]
    assert after[slot]["pid"] != dead and after[slot]["episodes"] > 0  # the replacement worked in its slot
    keys = [(f"test-{i}", k) for i in range(12) for k in range(2)]
    assert [(t.task_id, t.sample_index) for t in trajs] == keys  # every job, in order
    stored = load_trajectories(tmp_path / "trajectories.jsonl")
    assert sorted(t.episode_id for t in stored) == sorted(t.episode_id for t in more)  # once each
    assert len(more) == 28 and more[:24] == trajs and played == 4
    assert all(t.finished and not t.error for t in trajs)
    lost = [t for t in trajs if t.task_id == "test-5"]
    assert lost and all(t.info["pid"] != dead for t in lost)  # re-run elsewhere, not taken from the dead one


def test_a_job_that_always_kills_its_worker_stops_the_run(ray_cluster, tmp_path) -> None:
    agent = DyingAgent(str(tmp_path / "died"), task_id="test-1", delay=0.0, always=True)
    pool = RayRolloutPool("Arithmetic-v0", agent, 1, max_attempts=2)
    try:
        with pytest.raises(RuntimeError, match="lost their rollout worker 2 times"):
            asyncio.run(pool.run([("test-0", 0), ("test-1", 0)], seed=0))
    finally:
        pool.close()
    assert pool.replacements == 1  # after the second death the run stops: nothing left to replace for
    assert len((tmp_path / "died").read_text().split()) == 2


def test_addresses_are_checked(ray_cluster) -> None:
    assert check_address("auto") == "auto"
    assert check_address("10.0.0.2:6379") == "10.0.0.2:6379"
    assert check_address("ray://head:10001") == "ray://head:10001"
    for bad in ("http://head:6379", "head", "head:port", ""):
        with pytest.raises(ValueError, match="bad Ray address"):
            check_address(bad)
    with pytest.raises(ValueError, match="already initialized"):
        RayRolloutPool("Arithmetic-v0", FunctionAgent(reply), 1, address=ray_cluster)


def test_a_driver_joins_a_running_cluster_by_address(ray_cluster) -> None:
    """`address=`: a second process joins this module's Ray instance and plays episodes on it."""
    script = textwrap.dedent(f"""
        import asyncio
        from agentgym.agents import FunctionAgent
        from agentgym.distributed import RayRolloutPool
        import ray

        def answer(messages):
            return '<tool_call>{{"name": "answer", "arguments": {{"answer": "1"}}}}</tool_call>'

        pool = RayRolloutPool("Arithmetic-v0", FunctionAgent(answer), 1, address={ray_cluster!r})
        trajs = asyncio.run(pool.run([("test-0", 0), ("test-1", 0), ("test-2", 0)], seed=0))
        print("joined", ray.get_runtime_context().gcs_address, len([t for t in trajs if t.finished]))
        pool.close()
        ray.shutdown()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"joined {ray_cluster} 3" in out.stdout


def test_cli_eval_with_workers_writes_the_same_files(ray_cluster, tmp_path, capsys) -> None:
    from agentgym.cli import main

    with solver_server() as url:
        common = ["eval", "Arithmetic-v0", "--agent", "openai:solver", "--base-url", url, "--api-key", "x",
                  "--episodes", "6", "--no-progress"]
        assert main([*common, "--out", str(tmp_path / "local")]) == 0
        assert main([*common, "--out", str(tmp_path / "ray"), "--workers", "2", "--concurrency", "2"]) == 0
    a = {t.episode_id: _strip(t.to_dict()) for t in load_trajectories(tmp_path / "local" / "trajectories.jsonl")}
    b = {t.episode_id: _strip(t.to_dict()) for t in load_trajectories(tmp_path / "ray" / "trajectories.jsonl")}
    assert len(a) == 6 and a == b
    assert sorted(os.listdir(tmp_path / "local")) == sorted(os.listdir(tmp_path / "ray"))
    capsys.readouterr()
    assert main(["eval", "Arithmetic-v0", "--agent", "openai:m", "--ray-address", "auto"]) == 2
    assert "--ray-address needs --workers" in capsys.readouterr().err
    assert main(["eval", "Arithmetic-v0", "--agent", "gpt4", "--workers", "2"]) == 2
    assert "bad agent spec" in capsys.readouterr().err


def test_grpo_trains_on_two_rollout_workers(ray_cluster) -> None:
    """A 2-step GRPO run whose rollouts are played by 2 workers: token view intact, weights pushed."""
    import torch

    sys.path.insert(0, str(TRAINER_TESTS))
    from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
    from agentgym.trainers import GRPOConfig, GRPOTrainer

    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    cfg = GRPOConfig(steps=2, learning_rate=3e-3, group_size=4, tasks_per_step=4, max_new_tokens=4, max_length=64,
                     micro_batch_size=64, seed=0, log_every=0, concurrency=8)
    seen = []
    with GRPOTrainer(tiny_model(tok), KeyEnv, cfg, tokenizer=tok, rollout_workers=2) as trainer:
        collect = trainer.acollect

        async def recording():
            rollout = await collect()
            seen.extend(rollout.sampled)
            return rollout

        trainer.acollect = recording
        history = trainer.train()
        pool = trainer.rollout_pool
        info_after_training = pool.worker_info()
        trainer.evaluate(n=4)  # the next rollout loads the weights pushed after the last step
        info = pool.worker_info()
    assert trainer.rollout_pool is None  # closed with the trainer
    assert [h["step"] for h in history] == [1, 2] and all(h["updates"] >= 1 for h in history)
    assert len(seen) == 2 * 16 and all(t.finished for t in seen)
    for t in seen:  # the recorded token view came back from the workers intact
        assert t.turns and all(turn.token_ids and turn.context_ids for turn in t.turns)
        assert all(len(turn.logprobs) == len(turn.token_ids) for turn in t.turns)
    # the workers sampled with the trainer's weights: old log-probs equal the trainer's own (on-policy), also
    # in step 2, after the weights of step 1 were pushed to them
    assert all(abs(h["approx_kl"]) < 1e-5 for h in history), history
    assert sorted(w["index"] for w in info) == [0, 1]
    assert all(w["weights"] == 1 for w in info_after_training) and all(w["weights"] == 2 for w in info)


def test_worker_errors_are_raised_as_themselves(ray_cluster) -> None:
    from agentgym.agents.base import AgentError

    with pytest.raises(AgentError, match="cannot reach"):  # the agent's own check, run in the worker
        RayRolloutPool("Arithmetic-v0", UnreachableAgent(), 1)
    with pytest.raises(TypeError):  # the env cannot be made in the worker
        RayRolloutPool("Arithmetic-v0", FunctionAgent(reply), 1, env_kwargs={"no_such_argument": 1})
