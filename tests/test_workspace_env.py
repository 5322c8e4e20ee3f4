"""The Markovian workspace (IterResearch / EAPO) over MultiHopQA: each round's context is rebuilt from the
question, the latest report and only the last action with its result; one action per round; the last
round has no tools; an agent that keeps its state in the report alone can solve multi-hop questions."""

from __future__ import annotations

import asyncio
import re
import warnings

import numpy as np
import pytest
from agentgym.envs.search import MultiHopQAEnv, extract_fact
from agentgym.envs.search.oracle import parse_results
from gymnasium.utils.env_checker import check_env

import agentgym
from agentgym.wrappers import MarkovianWorkspace


@pytest.fixture(scope="module")
def ws():
    env = MarkovianWorkspace(MultiHopQAEnv, max_rounds=5, hops=(2, 3), n_docs=800)
    yield env
    env.close()


def workspace(obs) -> str:
    assert [m["role"] for m in obs] == ["system", "user"]
    return obs[1]["content"]


class ReportOracle:
    """Searches hop by hop keeping its progress only in the report ("hop K: looking up NAME"): it reads
    nothing but the current workspace (and the task's relation chain, never its answer)."""

    def __init__(self, env: MarkovianWorkspace) -> None:
        self.env = env

    def __call__(self, obs) -> str:
        meta = self.env.state.task.metadata
        text = workspace(obs)
        m = re.search(r"hop (\d+): looking up (.+)", text)
        if m is None:
            hop, subject = 0, meta["gold_titles"][0]
        else:
            hop, subject = int(m[1]), m[2].strip()
            value = next((extract_fact(body, subject, meta["relations"][hop])
                          for _id, title, body in parse_results(text) if title == subject), None)
            if value is None:
                return f"<report>{m[0]}</report><answer>unknown</answer>"
            hop, subject = hop + 1, value
            if hop == len(meta["relations"]):
                return f"<think>done</think><report>answer: {value}</report><answer>{value}</answer>"
        return f"<think>next hop</think><report>hop {hop}: looking up {subject}</report><search>{subject}</search>"


def test_reset_gives_the_first_workspace(ws):
    obs, info = ws.reset(options={"task_id": "test-0"})
    system, user = obs[0]["content"], workspace(obs)
    assert "<report>" in system and "exactly one action" in system and "round 5" in system
    assert user.startswith(f"Question: {ws.state.task.prompt}") and "Round 1 of 5" in user
    assert "(none yet)" in user and "first round" in user
    assert info["context_reset"] and info["round"] == 1 and info["max_rounds"] == 5 and info["report"] is None
    assert info["stop"] == ["</search>", "</open>", "</answer>"] and info["task"].gold_answers


def test_workspace_keeps_only_the_report_and_the_last_action(ws):
    obs, _ = ws.reset(options={"task_id": "test-3"})
    title = ws.state.task.metadata["gold_titles"][0]
    obs, reward, term, trunc, info = ws.step(f"<think>secret plan</think><report>R1 notes</report><search>{title}</search>")
    text = workspace(obs)
    first_result = text.split("Its result:\n")[1].split("\n\nWrite")[0]
    assert not (term or trunc) and reward == 0.0 and parse_results(first_result)
    assert "Round 2 of 5" in text and "R1 notes" in text and f"<search>{title}</search>" in text
    assert "secret plan" not in text  # thinking is not carried over
    assert info["context_reset"] and info["round"] == 1 and info["round_valid"] and info["report"] == "R1 notes"
    assert info["num_tool_calls"] == 1
    obs, *_, info = ws.step("<report>R2 notes</report><search>Velmora</search>")
    text = workspace(obs)
    assert "R2 notes" in text and "R1 notes" not in text
    assert "<search>Velmora</search>" in text and f"<search>{title}</search>" not in text
    assert first_result not in text and "Its result:" in text  # the earlier result is gone
    assert len(obs) == 2 and info["round"] == 2


@pytest.mark.parametrize("output,why", [
    ("<search>a</search>", "<report> is missing"),
    ("<report>r</report><search>a</search><search>b</search>", "2 actions"),
    ("<report>r</report><open>kb-000001</open><answer>x</answer>", "2 actions"),
    ("<report>r</report> I am done.", "no action tag"),
    ("<report>r</report><python>1</python>", "<python> is not a valid tag"),
    ("<search>a</search><report>r</report>", "before the action"),
    ("<report>r</report><report>s</report><search>a</search>", "2 <report> blocks"),
])
def test_invalid_rounds_apply_nothing_and_count(ws, output, why):
    ws.reset(options={"task_id": "test-4"})
    ws.step("<report>kept</report><search>first query</search>")
    obs, reward, term, trunc, info = ws.step(output)
    text = workspace(obs)
    assert not (term or trunc) and reward == 0.0
    assert why in text and "Nothing of it was applied" in text and "kept" in text
    assert "Round 3 of 5" in text and "<search>first query</search>" not in text
    assert info["round"] == 2 and not info["round_valid"] and why in info["format_errors"][0]
    assert info["invalid_rounds"] == 1 and info["report"] == "kept"
    assert ws.state.data["searches"] == 1  # nothing of the invalid round ran


def test_last_round_has_no_tools(ws):
    ws.reset(options={"task_id": "test-5"})
    for i in range(3):
        obs, *_ = ws.step(f"<report>r{i}</report><search>q{i}</search>")
    text = workspace(obs)
    assert "Round 4 of 5" in text and "disabled" not in text
    obs, *_ = ws.step("<report>r3</report><search>q3</search>")
    text = workspace(obs)
    assert "Round 5 of 5" in text and "tools are disabled" in text and "<answer>" in text
    obs, reward, term, trunc, info = ws.step("<report>r4</report><search>q4</search>")
    assert trunc and not term and reward == 0.0 and obs == []
    assert "not run" in info["format_errors"][0] and ws.state.data["searches"] == 4 and info["answer"] is None


def test_answer_ends_with_the_inner_reward(ws):
    _, info = ws.reset(options={"task_id": "test-6"})
    obs, reward, term, trunc, info = ws.step(f"<report>sure</report><answer>{info['task'].gold_answers[0]}</answer>")
    assert term and not trunc and reward == 1.0 and info["success"] and obs == []
    ws.reset(options={"task_id": "test-6"})
    _, reward, term, *_ = ws.step("<report>guess</report><answer>Nobody</answer>")
    assert term and reward == 0.0


def test_an_agent_that_remembers_only_its_report_solves_multi_hop_questions(ws):
    oracle = ReportOracle(ws)
    rewards, rounds = [], []
    for i in range(20):
        obs, _ = ws.reset(options={"task_id": f"test-{i}"})
        while True:
            obs, reward, term, trunc, info = ws.step(oracle(obs))
            if term or trunc:
                break
        rewards.append(reward)
        rounds.append(info["round"])
        assert rounds[-1] == ws.state.task.metadata["hops"] + 1 and info["invalid_rounds"] == 0
    assert np.mean(rewards) >= 0.9


def test_render_shows_the_current_workspace():
    env = MarkovianWorkspace(MultiHopQAEnv, max_rounds=3, n_docs=300, render_mode="ansi")
    env.reset(options={"task_id": "test-0"})
    env.step("<report>abc</report><search>q</search>")
    out = env.render()
    assert out.startswith("[system]") and "[user] Question:" in out and "abc" in out
    env.close()


def test_registered_checked_and_async():
    assert "agentgym/EAPO-MultiHopQA-v0" in agentgym.list_envs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version")  # a wrapper, by design
        env = agentgym.make("agentgym/EAPO-MultiHopQA-v0", max_rounds=3, n_docs=500)
        assert isinstance(env, MarkovianWorkspace) and env.env.max_turns == 3
        check_env(env)
        env.close()
    envs = [MarkovianWorkspace(MultiHopQAEnv, max_rounds=3, hops=1, n_docs=500) for _ in range(3)]

    async def episode(env, i):
        obs, info = await env.areset(options={"task_id": f"test-{i}"})
        obs, *_ = await env.astep("<report>r</report><search>x</search>")
        assert "Round 2 of 3" in obs[1]["content"]
        _, reward, term, _, _ = await env.astep(f"<report>r</report><answer>{info['task'].gold_answers[0]}</answer>")
        return reward, term

    async def main():
        return await asyncio.gather(*(episode(e, i) for i, e in enumerate(envs)))

    assert asyncio.run(main()) == [(1.0, True)] * 3
    for e in envs:
        e.close()


def test_chat_agents_see_only_the_current_workspace():
    """`agentgym.rollout` (API and HF agents) restarts the conversation when the env resets the context."""
    from agentgym.agents.scripted import FunctionAgent
    from agentgym.rollout import collect

    env = agentgym.make("agentgym/EAPO-MultiHopQA-v0", max_rounds=5, hops=2, n_docs=800)
    oracle = ReportOracle(env)
    seen: list[int] = []

    def policy(messages):
        seen.append(len(messages))
        return oracle(messages)

    trajs = collect(env, FunctionAgent(policy), ["test-0", "test-1", "test-2"], concurrency=1, progress=False)
    assert set(seen) == {2}  # system + one workspace message, every round
    assert all(t.success and t.num_turns == 3 for t in trajs)
    assert all(turn.context_reset for t in trajs for turn in t.turns)
    assert "Round 3 of 5" in trajs[0].turn_prompt(2)[1]["content"]
