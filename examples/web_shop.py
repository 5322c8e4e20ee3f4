"""Web shopping end to end on `WebShop-v0` (the project's local shop, browserless HTTP backend): one observation,
the scripted shopper, and an epsilon-noisy shopper played greedily and with best-first tree search.

    python examples/web_shop.py                     # ~20 s on 2 CPU cores
    python examples/web_shop.py --eps 0.5 --tasks 20
    python examples/web_shop.py --backend browser   # the same through Chromium (needs playwright + chromium)
    python examples/web_shop.py --smollm2           # also SmolLM2-135M on MiniWoB click-button (CPU, minutes)

The tree search's value function is scripted (`agentgym.envs.web.shop.policies.shop_value`: 1 for the right
purchase, 0 for a wrong one or a wrong option, 0.5 otherwise); with a model, pass an agent spec as the value
(`LLMJudge`), or run `agentgym eval WebShop-v0 --agent SPEC --search best-first --value-agent SPEC`.
"""

from __future__ import annotations

import argparse
import asyncio

from agentgym.envs.web.shop import ShopPolicy, goals_for, shop_value

import agentgym
from agentgym.agents import FunctionAgent
from agentgym.episode import run_episode
from agentgym.rollout import collect
from agentgym.search_agents import TreeSearchAgent


async def greedy_vs_search(env_kwargs: dict, task_ids: list[str], eps: float) -> dict[str, float]:
    """One real episode per task for each: the epsilon-shopper acting greedily, and inside a tree search."""
    env = agentgym.make("WebShop-v0", **env_kwargs).unwrapped
    goals = goals_for(env, task_ids)
    value = shop_value(env.catalog, goals)
    out = {"greedy": 0.0, "greedy_calls": 0.0, "search": 0.0, "search_calls": 0.0}
    try:
        for k, tid in enumerate(task_ids):
            greedy = ShopPolicy(goals, eps, seed=k)
            traj = await run_episode(env, FunctionAgent(greedy, name="eps-shopper"), tid)
            out["greedy"] += traj.reward >= 1.0
            out["greedy_calls"] += greedy.calls
            policy = ShopPolicy(goals, eps, seed=k)
            search = TreeSearchAgent(FunctionAgent(policy, name="eps-shopper"),
                                     lambda: agentgym.make("WebShop-v0", **env_kwargs), value,
                                     max_depth=3, branching=3, num_samples=5, budget=8)
            traj = await run_episode(env, search, tid)
            await search.aclose()
            out["search"] += traj.reward >= 1.0
            out["search_calls"] += policy.calls
    finally:
        await env.aclose()
    return {k: v / len(task_ids) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=10)
    p.add_argument("--eps", type=float, default=0.3, help="probability of a random wrong click")
    p.add_argument("--backend", default="http", choices=["http", "browser"])
    p.add_argument("--smollm2", action="store_true", help="also SmolLM2-135M on MiniWoB click-button")
    a = p.parse_args()
    env_kwargs = {"backend": a.backend}
    task_ids = [f"test-{i}" for i in range(a.tasks)]

    # 1. what the agent reads: the goal, then the page as accessibility text with element ids
    env = agentgym.make("WebShop-v0", **env_kwargs)
    obs, _ = env.reset(options={"task_id": task_ids[0]})
    print(obs[-1]["content"], "\n")
    obs, *_ = env.step("fill('2', 'hiking boots')\nclick('3')")  # BrowserGym call strings
    print("\n".join(obs[-1]["content"].splitlines()[:14]), "\n...\n")
    goals = goals_for(env.unwrapped, task_ids)
    env.close()

    # 2. the scripted shopper (a policy of the conversation alone), 4 episodes at a time
    trajs = collect("WebShop-v0", FunctionAgent(ShopPolicy(goals), name="shopper"), task_ids, concurrency=4,
                    env_kwargs=env_kwargs, progress=False)
    ok = sum(t.reward >= 1.0 for t in trajs)
    print(f"shopper: success {ok} / {len(trajs)}, {sum(t.num_turns for t in trajs) / len(trajs):.1f} turns")

    # 3. an epsilon-noisy shopper, greedy vs tree search (one real episode per task each)
    r = asyncio.run(greedy_vs_search(env_kwargs, task_ids, a.eps))
    print(f"eps={a.eps} greedy:      success {r['greedy']:.2f}, {r['greedy_calls']:.0f} policy calls per task")
    print(f"eps={a.eps} tree search: success {r['search']:.2f}, {r['search_calls']:.0f} policy calls per task")

    # 4. a small local model on a MiniWoB task through a real browser
    if a.smollm2:
        from agentgym.agents.spec import make_agent
        from agentgym.eval.metrics import summarize

        agent = make_agent("hf:smollm2", temperature=0.0, max_tokens=32)
        trajs = collect("miniwob.click-button-v0", agent, num_tasks=3, concurrency=1, env_kwargs={"max_turns": 3},
                        progress=False)
        print(f"hf:smollm2 on miniwob.click-button: success {summarize(trajs).success_rate:.2f}; first reply: "
              f"{trajs[0].turns[0].assistant.get('content')!r}")


if __name__ == "__main__":
    main()
