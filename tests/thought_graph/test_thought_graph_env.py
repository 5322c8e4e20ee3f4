"""ThoughtGraphEnv: transformations, invalid actions, budgets and rewards, and the static schedules end to end
with the programmatic reasoner (graph shapes, reasoner calls and rewards counted by hand on small inputs)."""

from __future__ import annotations

import asyncio
import json

import pytest
from agentgym.envs.thought_graph import ProgrammaticReasoner, ThoughtGraphEnv, schedule_agent
from agentgym.envs.thought_graph.schedules import created, kept, scores

from agentgym.episode import run_episode

EXACT = {"error_rate": 0.0, "merge_error_rate": 0.0}


def call(name: str, **arguments) -> str:
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


def play(env: ThoughtGraphEnv, agent, task_id: str = "test-0", seed: int = 0):
    return asyncio.run(run_episode(env, agent, task_id, seed=seed))


def graph_of(traj) -> dict:
    return traj.info["graph"]


def test_io_on_sorting_one_call_one_node():
    env = ThoughtGraphEnv("sorting", size=8, reasoner_options=EXACT)
    traj = play(env, schedule_agent("io"))
    nodes = graph_of(traj)["nodes"]
    assert [n["op"] for n in nodes] == ["problem", "solve"]
    assert traj.reward == 1.0 and traj.success
    assert traj.info["reasoner_usage"]["calls"] == 1
    assert nodes[1]["solution"] == sorted(nodes[0]["problem"])
    env.close()


def test_got_schedule_graph_shape_calls_and_reward_by_hand():
    # decompose 1 call + solve 2 parts x k=2 + aggregate 2 tries + refine 1 = 8 calls
    env = ThoughtGraphEnv("sorting", size=8, reasoner_options=EXACT)
    traj = play(env, schedule_agent("got", parts=2, k=2, merge_tries=2, refine_rounds=1))
    nodes = graph_of(traj)["nodes"]
    ops = [n["op"] for n in nodes]
    assert ops == ["problem", "decompose", "decompose", "solve", "solve", "solve", "solve",
                   "aggregate", "aggregate", "refine"]
    assert traj.info["reasoner_usage"]["calls"] == 8
    # reduce pruned one candidate per part, one merge, and (a tie with the refinement) the refinement
    assert sum(n["pruned"] for n in nodes) == 4
    parts = [n for n in nodes if n["op"] == "decompose"]
    assert [p["part_of"] for p in parts] == [[0, 0], [0, 1]]
    assert sorted(parts[0]["problem"] + parts[1]["problem"]) == sorted(nodes[0]["problem"])
    merges = [n for n in nodes if n["op"] == "aggregate"]
    assert all(m["base"] == 0 and m["parts"] == [] and m["depth"] == 3 for m in merges)
    submitted = nodes[traj.info["submitted_node"]]
    assert submitted["solution"] == sorted(nodes[0]["problem"]) and submitted["errors"] == 0
    assert traj.reward == 1.0 and traj.reward_components["progress"] == 1.0
    assert traj.reward_components["reasoner_cost"] == pytest.approx(8 / 200)
    env.close()


def test_tot_schedule_calls_and_shape():
    env = ThoughtGraphEnv("sorting", size=8, reasoner_options=EXACT)
    traj = play(env, schedule_agent("tot", k=3, rounds=1))
    nodes = graph_of(traj)["nodes"]
    assert [n["op"] for n in nodes] == ["problem"] + ["solve"] * 3 + ["refine"] * 3
    assert traj.info["reasoner_usage"]["calls"] == 6
    assert all(n["parents"] == [1] for n in nodes[4:])  # every refinement improves the kept candidate (node 1)
    assert traj.success
    env.close()


@pytest.mark.parametrize("family,size", [("sorting", 16), ("set_intersection", 16), ("keyword_counting", 8),
                                         ("doc_merging", 12)])
@pytest.mark.parametrize("schedule", ["io", "cot", "tot", "got"])
def test_every_schedule_solves_every_list_family_with_an_exact_reasoner(family, size, schedule):
    env = ThoughtGraphEnv(family, size=size, reasoner_options=EXACT)
    kwargs = {"parts": 2, "k": 2, "merge_tries": 2} if schedule == "got" else {"k": 2, "rounds": 1} \
        if schedule == "tot" else {}
    traj = play(env, schedule_agent(schedule, **kwargs))
    assert traj.error is None and traj.success, (traj.messages[-2:], traj.info.get("graph"))
    env.close()


def test_noisy_reasoner_got_beats_io_on_sorting_32():
    io_wins = got_wins = 0
    for i in range(12):
        for name, agent in (("io", schedule_agent("io")), ("got", schedule_agent("got", size=32))):
            env = ThoughtGraphEnv("sorting", size=32, reasoner=ProgrammaticReasoner(seed=i))
            traj = play(env, agent, f"test-{i}", seed=i)
            if name == "io":
                io_wins += traj.success
            else:
                got_wins += traj.success
            env.close()
    assert got_wins >= io_wins + 5, (io_wins, got_wins)


def test_invalid_actions_become_observations_and_the_episode_goes_on():
    env = ThoughtGraphEnv("sorting", size=8, reasoner_options=EXACT)
    env.reset(options={"task_id": "test-1"})
    checks = [
        (call("solve", nodes=[7], k=1), "there is no node 7"),
        (call("aggregate", nodes=[0]), "at least two nodes"),
        (call("submit", node=0), "has no solution"),
        (call("reduce", nodes=[0], keep=1), "not scored"),
        (call("decompose", node=0, parts=1), "parts must be"),
        (call("solve", nodes=[0], k=0), "k must be"),
    ]
    for action, expected in checks:
        obs, _reward, terminated, truncated, _info = env.step(action)
        text = "\n".join(m["content"] for m in obs)
        assert expected in text and not terminated and not truncated, text
    obs, *_ = env.step(call("decompose", node=0, parts=2))
    assert created(obs[-1]["content"]) == [[1, 2]]
    obs, *_ = env.step(call("decompose", node=0, parts=2))
    assert "already decomposed" in obs[-1]["content"]
    obs, *_ = env.step(call("solve", nodes=[1], k=1))
    (solution,) = created(obs[-1]["content"])
    obs, *_ = env.step(call("aggregate", nodes=[solution[0], 2]))
    assert "no solution to aggregate" in obs[-1]["content"]
    obs, *_ = env.step(call("submit", node=solution[0]))
    assert "does not answer the root" in obs[-1]["content"]
    obs, *_ = env.step("not a tool call at all")  # plain text ends the episode as an answer: nothing submitted
    env.close()


def test_partial_aggregation_then_whole():
    env = ThoughtGraphEnv("sorting", size=12, reasoner_options=EXACT)
    env.reset(options={"task_id": "test-2"})
    env.step(call("decompose", node=0, parts=3))  # parts 1, 2, 3
    obs, *_ = env.step(call("solve", nodes=[1, 2, 3], k=1))  # 4, 5, 6
    assert created(obs[-1]["content"]) == [[4], [5], [6]]
    obs, *_ = env.step(call("aggregate", nodes=[4, 5]))  # 7 covers parts 1-2
    assert "parts 1,2 of 3 of node 0" in obs[-1]["content"]
    obs, *_ = env.step(call("aggregate", nodes=[7, 5]))
    assert "already covers" in obs[-1]["content"]
    env.step(call("aggregate", nodes=[6, 7]))  # 8 covers all: the root
    obs, reward, terminated, _truncated, info = env.step(call("submit", node=8))
    assert terminated and reward == 1.0 and info["submitted_node"] == 8
    node8 = info["graph"]["nodes"][8]
    assert node8["parents"] == [7, 6] and node8["base"] == 0 and node8["parts"] == []
    env.close()


def test_scores_and_reduce_results_parse():
    env = ThoughtGraphEnv("sorting", size=32, reasoner=ProgrammaticReasoner(error_rate=0.3, seed=3))
    env.reset(options={"task_id": "test-3"})
    obs, *_ = env.step(call("solve", nodes=[0], k=4))
    ids = created(obs[-1]["content"])[0]
    obs, *_ = env.step(call("score", nodes=ids))
    found = scores(obs[-1]["content"])
    assert set(found) == set(ids) and all(v >= 0 for v in found.values())
    obs, *_ = env.step(call("reduce", nodes=ids, keep=2))
    best = sorted(ids, key=lambda i: (found[i], i))[:2]
    assert kept(obs[-1]["content"]) == [sorted(best)]
    # pruned nodes are hidden from the rendering and cannot be used
    pruned = [i for i in ids if i not in best]
    obs, *_ = env.step(call("refine", nodes=[pruned[0]]))
    assert "was pruned" in obs[-1]["content"]
    env.close()


def test_call_budget_truncates_the_episode():
    env = ThoughtGraphEnv("sorting", size=8, max_calls=3, reasoner_options=EXACT)
    env.reset(options={"task_id": "test-0"})
    obs, reward, terminated, truncated, info = env.step(call("solve", nodes=[0], k=2))
    assert not truncated and info["reasoner_usage"]["calls"] == 2
    obs, reward, terminated, truncated, info = env.step(call("solve", nodes=[0], k=2))
    text = "\n".join(m["content"] for m in obs)
    assert truncated and not terminated and "budget" in text
    assert info["reasoner_usage"]["calls"] == 2 and reward == 0.0
    env.close()


def test_progress_shaping_and_cost_penalty_weights():
    env = ThoughtGraphEnv("sorting", size=16, reasoner=ProgrammaticReasoner(error_rate=0.4, seed=1),
                          reward_weights={"progress": 0.5, "reasoner_cost": -1.0}, max_calls=10)
    traj = play(env, schedule_agent("io"), "test-4")
    comps = traj.reward_components
    assert comps["reasoner_cost"] == pytest.approx(0.1)
    expected = comps["success"] + 0.5 * comps["progress"] - 0.1
    assert traj.reward == pytest.approx(expected)
    assert 0.0 <= comps["progress"] <= 1.0
    env.close()


def test_native_protocol_schedule():
    env = ThoughtGraphEnv("set_intersection", size=16, protocol="native", reasoner_options=EXACT)
    traj = play(env, schedule_agent("got", parts=2, k=1, merge_tries=1))
    assert traj.success
    env.close()


def test_train_and_test_ids_are_disjoint_and_reproducible():
    env = ThoughtGraphEnv("sorting", size=32)
    a = env.tasks.get("train-5").metadata["problem"]
    assert a == ThoughtGraphEnv("sorting", size=32).tasks.get("train-5").metadata["problem"]
    assert a != env.tasks.get("test-5").metadata["problem"]
    env.close()


@pytest.mark.parametrize("family,file", [("sorting", "sorting.csv"), ("set_intersection", "set_intersection.csv"),
                                         ("keyword_counting", "countries.csv"), ("doc_merging", "documents.csv")])
def test_graph_of_thoughts_csv_files_play_unchanged(family, file):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "thought_graph" / file
    env = ThoughtGraphEnv(family, tasks_file=path, reasoner_options=EXACT)
    ids = env.tasks.ids()
    assert ids and all(i.startswith(f"{family}-") for i in ids)
    traj = play(env, schedule_agent("got", parts=2, k=1, merge_tries=1), ids[0])
    assert traj.success and traj.task.gold_answers
    env.close()


def test_graph_context_mode_rebuilds_the_prompt_and_schedules_read_the_history():
    env = ThoughtGraphEnv("sorting", size=16, context="graph", reasoner_options=EXACT)
    traj = play(env, schedule_agent("got", parts=2, k=2, merge_tries=2))
    assert traj.success
    resets = [t.context_reset for t in traj.turns]
    assert all(resets[:-1]) and not resets[-1]  # the submit turn ends the episode
    prompt = traj.turn_prompt(3)
    assert [m["role"] for m in prompt] == ["system", "user"]
    assert "# Actions so far\n1. decompose(node=0, parts=2) -> decompose 0: created 1, 2" in prompt[-1]["content"]
    env.close()


@pytest.mark.parametrize("schedule,kwargs", [("io", {}), ("tot", {"k": 3, "rounds": 1})])
def test_humaneval_schedules_run_end_to_end_in_the_sandbox(schedule, kwargs):
    # the programmatic reasoner writes the canonical solution with mutations; the scorer runs the hidden tests
    env = ThoughtGraphEnv("humaneval", reasoner=ProgrammaticReasoner(seed=0))
    outcomes = []
    for task_id in ("humaneval-HumanEval/0", "humaneval-HumanEval/2", "humaneval-HumanEval/4"):
        traj = play(env, schedule_agent(schedule, **kwargs), task_id)
        assert traj.error is None and traj.info["submitted_node"] is not None
        submitted = traj.info["graph"]["nodes"][traj.info["submitted_node"]]
        if submitted["errors"] is not None:  # scored: success is exactly "no hidden test fails"
            assert traj.success == (submitted["errors"] == 0)
        outcomes.append(traj.success)
    assert any(outcomes)
    env.close()


def test_humaneval_decomposition_needs_an_llm_reasoner():
    env = ThoughtGraphEnv("humaneval")
    env.reset(options={"task_id": "humaneval-HumanEval/0"})
    obs, _, _, _, info = env.step(call("decompose", node=0, parts=2))
    assert "needs an LLM reasoner" in obs[-1]["content"] and info["reasoner_usage"]["calls"] == 0
    env.close()


def test_context_conversations_split_a_graph_context_episode_per_turn():
    env = ThoughtGraphEnv("sorting", size=16, context="graph", reasoner_options=EXACT)
    traj = play(env, schedule_agent("io"))
    conversations = traj.context_conversations()
    assert len(conversations) == len(traj.turns) == 2
    for k, conv in enumerate(conversations):
        prompt = traj.turn_prompt(k)
        assert conv[:len(prompt)] == prompt and conv[len(prompt)] == traj.turns[k].assistant
    assert len(conversations[0]) == len(traj.messages) + 1  # the reset observation is the next context, not appended
    assert conversations[1][-1] == traj.turns[1].observation[-1]  # the last turn's result stays in its context
    env.close()
