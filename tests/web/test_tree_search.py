"""Best-first tree search (Koh et al. 2024) over WebEnv on a fake maze site, with scripted policy and value."""

from __future__ import annotations

import asyncio
import json
import re

import numpy as np
import pytest
from _fake_web import FakeBackend, fake_render, make_maze, maze_reward, shop_reward, shop_site, shop_tasks
from agentgym.envs.web import WebEnv

from agentgym.agents import Agent, AgentOutput, FunctionAgent
from agentgym.episode import run_episode
from agentgym.search_agents import LLMJudge, TreeSearchAgent, action_key, parse_judgement
from agentgym.tasks import Task, TaskDataset

SEEDS = range(6)
DEPTH, WIDTH, EPS = 6, 3, 0.5
_URL = re.compile(r"URL: (\S+)")


def maze_world() -> tuple[dict, dict, TaskDataset]:
    site, solution = {}, {}
    for s in SEEDS:
        m = make_maze(s, DEPTH, WIDTH)
        site.update(m.site)
        solution.update(m.solution)
    tasks = TaskDataset(Task(f"maze{s}", "Find the exit of the maze.", metadata={"start_url": f"/m{s}/room0"})
                        for s in SEEDS)
    return site, solution, tasks


SITE, SOLUTION, TASKS = maze_world()


def maze_env() -> WebEnv:
    return WebEnv(TASKS, FakeBackend(SITE), reward=maze_reward, render=fake_render, max_turns=DEPTH + 2)


class MazePolicy:
    """Knows the right door; with probability `eps` takes a wrong one. Counts its calls. The prose before the
    action varies, so deduplication must compare the parsed action."""

    def __init__(self, seed: int, eps: float = EPS) -> None:
        self.rng = np.random.default_rng(seed)
        self.eps = eps
        self.calls = 0

    def __call__(self, messages: list[dict]) -> str:
        self.calls += 1
        url = _URL.findall(messages[-1]["content"])[-1]
        right = SOLUTION.get(url)
        if right is None:
            return 'send_msg_to_user("I am stuck.")'
        door = right
        if self.rng.random() < self.eps:
            door = str(self.rng.choice([str(j) for j in range(1, WIDTH + 1) if str(j) != right]))
        thought = ["Let me try this door.", "This one looks right.", "Going on."][int(self.rng.integers(3))]
        return f"{thought}\nclick('{door}')"


def maze_value(messages: list[dict], task: Task) -> float:
    """A scripted judge: 1 at the exit, 0 in a dead end, 0.5 (on track) elsewhere."""
    page = messages[-1]["content"]
    if "Title: Goal reached" in page:
        return 1.0
    return 0.0 if "Title: Dead end" in page else 0.5


async def play_search(task_id: str, seed: int) -> tuple[bool, int, object]:
    policy = MazePolicy(seed)
    agent = TreeSearchAgent(FunctionAgent(policy, name="maze"), maze_env, maze_value, max_depth=3, branching=3,
                            budget=10)
    env = maze_env()
    traj = await run_episode(env, agent, task_id)
    await env.aclose()
    await agent.aclose()
    return traj.success, policy.calls, traj


async def play_greedy(task_id: str, seed: int, calls: int) -> tuple[bool, int]:
    """Greedy episodes, restarted until they used `calls` policy calls: success when any episode succeeded
    (an oracle pick among the attempts, which favors greedy)."""
    policy = MazePolicy(seed + 1000)
    env = maze_env()
    success = False
    while policy.calls < calls and not success:
        traj = await run_episode(env, FunctionAgent(policy), task_id)
        success = traj.success
    await env.aclose()
    return success, policy.calls


async def test_search_beats_greedy_at_equal_policy_calls():
    search_wins, greedy_wins, search_calls = 0, 0, 0
    for s in SEEDS:
        ok, calls, _ = await play_search(f"maze{s}", s)
        g_ok, g_calls = await play_greedy(f"maze{s}", s, calls)
        assert g_ok or g_calls >= calls  # a failed greedy run had at least the search's policy calls
        search_wins += ok
        greedy_wins += g_ok
        search_calls += calls
    # one greedy episode succeeds with probability (1 - EPS) ** DEPTH = 1/64
    assert search_wins == len(SEEDS), (search_wins, greedy_wins)
    assert greedy_wins < search_wins, (search_wins, greedy_wins, search_calls)
    assert search_calls < 150 * len(SEEDS)


async def test_search_tree_is_saved_on_the_trajectory():
    _ok, _calls, traj = await play_search("maze0", 0)
    trees = traj.info["search_tree"]
    assert len(trees) == traj.num_turns
    first = trees[0]
    assert first["step"] == 0 and first["policy_calls"] > 0 and 1 <= first["value_calls"] <= 10
    visited = sorted((n for n in first["nodes"] if n["visit"] is not None), key=lambda n: n["visit"])
    assert [n["visit"] for n in visited] == list(range(first["value_calls"]))
    assert all(0.0 <= n["value"] <= 1.0 for n in visited)
    for n in first["nodes"]:
        assert len(n["path"]) == n["depth"] and n["path"][-1] == n["key"]
        assert n["key"].startswith("click(")  # deduplicated by the parsed call, not the varying prose
    chosen = first["nodes"][first["chosen"]]
    assert chosen["depth"] == 1 and chosen["key"] == f'click({{"bid": "{SOLUTION["/m0/room0"]}"}})'
    assert traj.turns[0].assistant["content"].endswith(f"click('{SOLUTION['/m0/room0']}')")
    json.loads(traj.to_json())  # the tree is JSON-ready


async def test_search_stops_when_a_value_reaches_one():
    site = {**shop_site()}
    env_factory = lambda: WebEnv(shop_tasks(), FakeBackend(site), reward=shop_reward, render=fake_render)  # noqa: E731
    policy = FunctionAgent(lambda m: "click('1')")
    value = lambda msgs, task: 1.0 if "URL: /boots" in msgs[-1]["content"] else 0.5  # noqa: E731
    agent = TreeSearchAgent(policy, env_factory, value, max_depth=5, branching=2, budget=20)
    env = env_factory()
    traj = await run_episode(env, agent, "boots")
    tree = traj.info["search_tree"][0]
    assert tree["best_value"] == 1.0 and tree["value_calls"] == 2  # /products (0.5), then /boots (1.0): stop
    assert traj.success and traj.num_turns == 2
    await env.aclose()
    await agent.aclose()


def test_action_key_normalizes_by_parsed_calls():
    env = maze_env()
    a = action_key({"role": "assistant", "content": "Hmm.\nclick('2')"}, env.protocol)
    b = action_key({"role": "assistant", "content": "```\nclick(bid='2')\n```"}, env.protocol)
    c = action_key({"role": "assistant", "content": "  just   text "}, env.protocol)
    assert a == b == 'click({"bid": "2"})' and c == "just text"
    env.close()


@pytest.mark.parametrize(("text", "score"), [
    ('Thoughts: the page shows the order.\nStatus: "success"\nOn the right track to success: "yes"', 1.0),
    ("Thoughts: not yet.\nStatus: failure\nOn the right track to success: yes", 0.5),
    ('Thoughts: wrong page.\nStatus: "failure"\nOn the right track to success: "no"', 0.0),
    ("status: Success", 1.0),
    ("Status: failure", 0.0),
    ("I think it worked.", 0.0),
    ("", 0.0),
])
def test_value_parser(text, score):
    assert parse_judgement(text) == score


class CyclingJudge(Agent):
    name = "judge"

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.i, self.prompts = replies, 0, []

    async def act(self, messages, *, tools=None, stop=None) -> AgentOutput:
        self.prompts.append(messages)
        reply = self.replies[self.i % len(self.replies)]
        self.i += 1
        return AgentOutput(message={"role": "assistant", "content": reply}, prompt_tokens=10, completion_tokens=5)


async def test_llm_judge_averages_n_parsed_judgements():
    judge = CyclingJudge(["Status: success", "Status: failure\nOn the right track to success: yes",
                          "Status: failure\nOn the right track to success: no", "Status: success"])
    value = LLMJudge(judge, n=4)
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Goal: buy boots\n# page A"},
                {"role": "assistant", "content": "click('1')"}, {"role": "user", "content": "# page B"}]
    task = Task("t", "Buy the boots.")
    assert await value(messages, task) == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    prompt = judge.prompts[0][1]["content"]
    assert "User goal: Buy the boots." in prompt and "1. click('1')" in prompt and "# page B" in prompt
    assert "page A" not in prompt


async def test_search_with_llm_judge_counts_its_tokens():
    judge = CyclingJudge(["Status: failure\nOn the right track to success: yes"])
    site = shop_site()
    env_factory = lambda: WebEnv(shop_tasks(), FakeBackend(site), reward=shop_reward, render=fake_render)  # noqa: E731
    agent = TreeSearchAgent(FunctionAgent(lambda m: "click('1')"), env_factory, LLMJudge(judge, n=3), max_depth=2,
                            branching=1, budget=3)
    env = env_factory()
    traj = await run_episode(env, agent, "boots")
    assert traj.turns[0].prompt_tokens == 10 * 3 * traj.info["search_tree"][0]["value_calls"]
    await env.aclose()
    await agent.aclose()


def test_eval_cli_wraps_the_agent(monkeypatch, tmp_path):
    """`agentgym eval ENV --agent SPEC --search best-first ...` runs a TreeSearchAgent (env replayed by reset +
    steps) and stores the trees."""
    import agentgym.agents
    from agentgym.cli import main
    from agentgym.trajectory import load_trajectories

    def fake_make_agent(spec, **options):
        if spec == "openai:judge":
            return FunctionAgent(lambda m: "Status: failure\nOn the right track to success: yes", name="judge")
        return FunctionAgent(lambda m: '<tool_call>{"name": "answer", "arguments": {"answer": "7"}}</tool_call>',
                             name="policy")

    monkeypatch.setattr(agentgym.agents, "make_agent", fake_make_agent)
    rc = main(["eval", "Arithmetic-v0", "--agent", "openai:x", "--episodes", "2", "--search", "best-first",
               "--search-depth", "2", "--search-branching", "2", "--search-budget", "3", "--value-agent",
               "openai:judge", "--value-samples", "2", "--out", str(tmp_path), "--no-progress", "--concurrency", "1"])
    assert rc == 0
    trajs = load_trajectories(tmp_path / "trajectories.jsonl")
    assert len(trajs) == 2 and all(t.agent_id == "search(policy)" for t in trajs)
    assert all(t.info["search_tree"][0]["value_calls"] >= 1 for t in trajs)
    assert main(["eval", "Arithmetic-v0", "--agent", "openai:x", "--search", "best-first", "--search-budget", "0"]) == 2


def test_tree_search_needs_an_episode():
    agent = TreeSearchAgent(FunctionAgent(lambda m: "x"), maze_env, maze_value)
    with pytest.raises(Exception, match="inside an episode"):
        asyncio.run(agent.act([{"role": "user", "content": "hi"}]))
