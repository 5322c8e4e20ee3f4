import json
import os
import signal
import subprocess
import sys
import time

import pytest

from agentgym.agents import FunctionAgent, ScriptedAgent
from agentgym.eval import pass_at_k, pass_hat_k, summarize
from agentgym.rollout import acollect, collect
from agentgym.trajectory import Trajectory, TrajectoryStore, Turn, load_trajectories


def solver(messages):
    """Computes the gold answer with the calculator first, then answers (reads it back from the tool output)."""
    n = sum(1 for m in messages if m["role"] == "assistant")
    if n == 0:
        return '<tool_call>{"name": "calculator", "arguments": {"expression": "6*7"}}</tool_call>'
    return '<tool_call>{"name": "answer", "arguments": {"answer": "42"}}</tool_call>'


def test_pass_at_k_and_pass_hat_k_values():
    assert pass_at_k(5, 0, 1) == 0.0 and pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(4, 4, 4) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(2, 3, 1)


def test_collect_groups_and_summary():
    trajs = collect("Arithmetic-v0", FunctionAgent(solver), num_tasks=6, group_size=3, concurrency=4, progress=False)
    assert len(trajs) == 18 and len({t.episode_id for t in trajs}) == 18
    assert all(t.finished and t.num_turns == 2 and t.num_tool_calls == 2 for t in trajs)
    s = summarize(trajs, k=3)
    assert s.episodes == 18 and s.tasks == 6 and s.mean_turns == 2.0
    assert s.reward_components["used_calculator"] == 1.0


def test_store_appends_and_survives_torn_last_line(tmp_path):
    path = tmp_path / "t.jsonl"
    with TrajectoryStore(path) as store:
        store.append(Trajectory("a#0", "e", "a", "ag", terminated=True, turns=[Turn(assistant={"role": "assistant", "content": "x"}, token_ids=[1, 2], logprobs=[-0.1, -0.2])]))
    with open(path, "a") as f:
        f.write('{"episode_id": "b#0", "env_id"')  # killed mid-write
    with TrajectoryStore(path) as store:
        assert store.finished_keys() == {"a#0"}
        store.append(Trajectory("c#0", "e", "c", "ag", truncated=True))
    loaded = load_trajectories(path)
    assert [t.episode_id for t in loaded] == ["a#0", "c#0"]
    assert loaded[0].turns[0].token_ids == [1, 2]


async def test_collect_resumes_from_store(tmp_path):
    store = TrajectoryStore(tmp_path / "r.jsonl")
    first = await acollect("Arithmetic-v0", FunctionAgent(solver), ["test-0", "test-1"], store=store, progress=False)
    calls = []

    def counting(messages):
        calls.append(1)
        return solver(messages)

    both = await acollect("Arithmetic-v0", FunctionAgent(counting), ["test-0", "test-1", "test-2"], store=store, progress=False)
    store.close()
    assert len(first) == 2 and len(both) == 3 and len(calls) == 2  # only test-2 ran (2 turns)


def test_agent_exceptions_are_recorded_not_raised():
    async def broken(messages):
        raise ValueError("model returned garbage")

    trajs = collect("Arithmetic-v0", FunctionAgent(broken), ["test-0"], progress=False)
    assert trajs[0].error == "ValueError: model returned garbage" and not trajs[0].finished


def test_scripted_agent_native_protocol():
    agent = ScriptedAgent([{"content": None, "tool_calls": [
        {"id": "q", "type": "function", "function": {"name": "answer", "arguments": '{"answer": "1"}'}}]}])
    trajs = collect("Arithmetic-v0", agent, ["test-0"], env_kwargs={"protocol": "native"}, progress=False)
    assert trajs[0].turns[0].observation[0]["role"] == "tool" and trajs[0].terminated


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "agentgym.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_bad_input_is_one_line_error():
    for args, needle in [
        (("eval", "Nope-v0", "--agent", "openai:x"), "unknown environment"),
        (("eval", "Arithmetic-v0", "--agent", "gpt4"), "bad agent spec"),
        (("eval", "Arithmetic-v0", "--agent", "hf:/no/such/model"), "not found"),
        (("eval", "Arithmetic-v0", "--agent", "openai:m", "--base-url", "http://127.0.0.1:9/v1"), "cannot reach"),
        (("eval", "Arithmetic-v0", "--agent", "openai:m", "--env-arg", "novalue"), "KEY=VALUE"),
        (("eval", "Arithmetic-v0", "--agent", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--env-arg", "difficulty=99"), "difficulty"),
    ]:
        out = run_cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = [x for x in out.stderr.strip().splitlines() if not x.startswith("Loading")]
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr, (args, out.stderr)


def test_cli_list_shows_builtin():
    out = run_cli("list")
    assert out.returncode == 0 and "agentgym/Arithmetic-v0" in out.stdout


@pytest.mark.slow
def test_eval_killed_midway_resumes_only_missing(tmp_path):
    out_dir = tmp_path / "run"
    args = [sys.executable, "-m", "agentgym.cli", "eval", "Arithmetic-v0", "--agent", "hf:smollm2", "--episodes", "6",
            "--concurrency", "1", "--max-tokens", "24", "--out", str(out_dir), "--no-progress", "--env-arg", "max_turns=1"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    path = out_dir / "trajectories.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = [json.loads(x)["episode_id"] for x in path.read_text().splitlines() if x.strip()]
    assert 2 <= len(before) < 6
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = [json.loads(x)["episode_id"] for x in path.read_text().splitlines() if x.strip()]
    assert after[: len(before)] == before  # nothing rewritten
    assert sorted(after) == sorted(set(after)) and len(after) == 6  # only the missing ones ran
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["episodes"] == 6
