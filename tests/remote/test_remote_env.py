"""`RemoteEnv` against real `agentgym serve-env` processes: the Gymnasium contract, rollouts equal to in-process
ones, and every failure (restart, eviction, the episode limit, bad bodies, env errors) as a clear error."""

from __future__ import annotations

import asyncio
import socket
import time
import warnings

import httpx
import pytest
from gymnasium.utils.env_checker import check_env

import agentgym
from agentgym.agents.scripted import FunctionAgent, ScriptedAgent
from agentgym.episode import run_episode
from agentgym.eval import evaluate
from agentgym.records import TaskRecord
from agentgym.remote import RemoteEnv, RemoteEnvError
from agentgym.rollout import collect

CALC = '<tool_call>{"name": "calculator", "arguments": {"expression": "12 * 7"}}</tool_call>'
ANSWER = '<tool_call>{"name": "answer", "arguments": {"answer": "84"}}</tool_call>'


def test_remote_env_passes_the_env_checker(server):
    env = agentgym.make(server.url)
    assert isinstance(env, RemoteEnv) and env.spec is not None and env.spec.id == server.url
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
    env.close()


def test_reset_and_step_equal_a_local_env_with_typed_records(server):
    remote, local = agentgym.make(server.url), agentgym.make("Arithmetic-v0", difficulty=1)
    try:
        assert remote.split == local.split and remote.max_turns == local.max_turns
        assert remote.tasks.splits == local.tasks.splits and remote.tasks.size("test") == local.tasks.size("test")
        assert remote.tasks.get("test-3").prompt == local.tasks.get("test-3").prompt
        with pytest.raises(KeyError, match="nope"):
            remote.tasks.get("nope")
        for kwargs in ({"seed": 5}, {"options": {"task_id": "train-17"}}):
            r_obs, r_info = remote.reset(**kwargs)
            l_obs, l_info = local.reset(**kwargs)
            assert r_obs == l_obs and r_info == l_info
            assert type(r_info["task"]) is TaskRecord
            for action in (CALC, {"role": "assistant", "content": ANSWER}):
                assert remote.step(action) == local.step(action)
        with pytest.raises(RuntimeError, match="call reset"):
            remote.step(CALC)
    finally:
        remote.close()
        local.close()


def test_collect_through_the_server_matches_in_process(server):
    agent = ScriptedAgent([CALC, ANSWER])
    kwargs = dict(num_tasks=5, group_size=2, concurrency=4, seed=7, progress=False)
    local = collect("Arithmetic-v0", agent, env_kwargs={"difficulty": 1}, **kwargs)
    remote = collect(agentgym.make(server.url), agent, **kwargs)
    assert [t.episode_id for t in remote] == [t.episode_id for t in local] and len(remote) == 10
    for r, lo in zip(remote, local, strict=True):
        assert r.error is None and r.messages == lo.messages and r.task == lo.task and type(r.task) is TaskRecord
        assert [(t.observation, t.reward, t.tool_calls) for t in r.turns] == \
               [(t.observation, t.reward, t.tool_calls) for t in lo.turns]
        assert (r.reward, r.success, r.terminated, r.reward_components) == \
               (lo.reward, lo.success, lo.terminated, lo.reward_components)
    assert {r.turns[-1].tool_calls[0] for r in remote} == {"answer"}
    health = httpx.get(f"{server.base}/health").json()
    assert health["episodes"] == 0  # collect closed every remote episode


def test_evaluate_takes_a_remote_id(server):
    summary = asyncio.run(evaluate(server.url, ScriptedAgent([ANSWER]), episodes=3, progress=False))
    assert summary.episodes == 3 and summary.env_id == server.url


def test_many_concurrent_async_episodes(server):
    async def play(i: int) -> tuple[str, float]:
        env = RemoteEnv(server.url)
        try:
            _, info = await env.areset(options={"task_id": f"test-{i}"})
            await env.astep(CALC)
            _, reward, terminated, _, _ = await env.astep(ANSWER)
            assert terminated
            return info["task_id"], reward
        finally:
            await env.aclose()

    async def main() -> list[tuple[str, float]]:
        return await asyncio.gather(*(play(i) for i in range(48)))

    results = asyncio.run(main())
    assert [tid for tid, _ in results] == [f"test-{i}" for i in range(48)]
    local = agentgym.make("Arithmetic-v0", difficulty=1)
    expected = []
    for i in range(48):
        local.reset(options={"task_id": f"test-{i}"})
        local.step(CALC)
        expected.append(local.step(ANSWER)[1])
    assert [r for _, r in results] == expected


def test_restarted_server_fails_the_episode_clearly_and_the_next_reset_works(restartable):
    env = agentgym.make(restartable.url)
    env.reset(seed=1)
    restartable.stop()
    t0 = time.monotonic()
    with pytest.raises(RemoteEnvError, match=r"cannot reach the env server .* is lost") as down:
        env.step(CALC)
    assert down.value.kind == "unreachable" and time.monotonic() - t0 < 5
    restartable.start().wait_ready()
    with pytest.raises(RemoteEnvError, match=r"restarted; episode [0-9a-f]+ is lost") as lost:
        env.step(CALC)
    assert lost.value.kind == "server_restarted"
    _, info = env.reset(seed=1)  # a reset starts a new episode on the new server
    assert info["task_id"] and env.step(CALC)[0]

    # inside the episode loop the lost episode ends with `Trajectory.error`; the run does not hang
    def restart_then_act(messages):
        if sum(m["role"] == "assistant" for m in messages) == 1:
            restartable.restart()
        return CALC

    traj = asyncio.run(asyncio.wait_for(run_episode(env, FunctionAgent(restart_then_act)), 120))
    assert traj.error is not None and "restarted" in traj.error and len(traj.turns) == 1
    env.close()


def test_the_episode_limit_is_a_clear_error(servers):
    small = servers["small"]
    a, b, c = (agentgym.make(small.url) for _ in range(3))
    a.reset(seed=0)
    b.reset(seed=1)
    with pytest.raises(RemoteEnvError, match=r"server holds 2 episodes \(max 2\)") as full:
        c.reset(seed=2)
    assert full.value.status == 503 and full.value.kind == "too_many_episodes"
    a.close()
    assert c.reset(seed=2)[1]["task_id"]
    b.close()
    c.close()
    assert httpx.get(f"{small.base}/health").json()["episodes"] == 0


def test_idle_episodes_are_evicted(servers):
    idle = servers["idle"]
    env = agentgym.make(idle.url)
    env.reset(seed=0)
    env.step(CALC)
    deadline = time.monotonic() + 10
    while httpx.get(f"{idle.base}/health").json()["episodes"] and time.monotonic() < deadline:
        time.sleep(0.25)
    with pytest.raises(RemoteEnvError, match="evicted after 1 s idle") as evicted:
        env.step(CALC)
    assert evicted.value.status == 410
    assert env.reset(seed=0)[1]["task_id"]  # a new episode
    env.close()


def test_malformed_bodies_get_422_naming_the_field(server):
    r = httpx.post(f"{server.base}/episodes", json={"seed": "seven", "optoins": {}})
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert "seed" in message and "optoins" in message
    r = httpx.post(f"{server.base}/episodes", json={"seed": -1})
    assert r.status_code == 422 and "seed" in r.json()["error"]["message"]
    episode = httpx.post(f"{server.base}/episodes", json={}).json()["episode_id"]
    try:
        r = httpx.post(f"{server.base}/episodes/{episode}/step", json={"actoin": "hi"})
        assert r.status_code == 422 and "action: Field required" in r.json()["error"]["message"]
        r = httpx.post(f"{server.base}/episodes/{episode}/step", content=b"{not json",
                       headers={"content-type": "application/json"})
        assert r.status_code == 422 and "JSON decode error" in r.json()["error"]["message"], r.json()
    finally:
        httpx.delete(f"{server.base}/episodes/{episode}")
    r = httpx.post(f"{server.base}/episodes/0123/step", json={"action": "hi"})
    assert r.status_code == 404 and "unknown episode 0123" in r.json()["error"]["message"]


def test_an_env_error_is_a_500_and_the_server_serves_on(server):
    base = server.base
    done = httpx.post(f"{base}/episodes", json={"seed": 0}).json()["episode_id"]
    other = httpx.post(f"{base}/episodes", json={"seed": 1}).json()["episode_id"]
    try:
        assert httpx.post(f"{base}/episodes/{done}/step", json={"action": ANSWER}).json()["terminated"]
        r = httpx.post(f"{base}/episodes/{done}/step", json={"action": ANSWER})  # the env raises: episode over
        assert r.status_code == 500 and r.json()["error"]["type"] == "env_error"
        assert "RuntimeError: the episode is over" in r.json()["error"]["message"]
        r = httpx.post(f"{base}/episodes/{other}/step", json={"action": "no tool call here"})
        assert r.status_code == 200 and r.json()["terminated"]  # an env-level mistake stays an observation/answer
    finally:
        for e in (done, other):
            httpx.delete(f"{base}/episodes/{e}")


def test_make_remote_errors_are_clear(server):
    with pytest.raises(TypeError, match="--env-arg"):
        agentgym.make(server.url, difficulty=3)
    with pytest.raises(RemoteEnvError, match="serves agentgym/Arithmetic-v0, not HumanEval-v0"):
        agentgym.make(f"remote:{server.base}/HumanEval-v0")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(RemoteEnvError, match=f"cannot reach the env server at http://127.0.0.1:{port}"):
        agentgym.make(f"remote:http://127.0.0.1:{port}/Arithmetic-v0")
    assert time.monotonic() - t0 < 5
    with pytest.raises(ValueError, match="HOST:PORT"):
        agentgym.make("remote:ftp://x/Arithmetic-v0")
