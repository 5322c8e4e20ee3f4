"""`ShopPolicy` (the scripted shopper as a policy of the conversation) and the scripted value `shop_value`."""

from __future__ import annotations

import asyncio

from agentgym.envs.web.shop import ShopPolicy, goals_for, shop_value

import agentgym
from agentgym.agents import FunctionAgent
from agentgym.episode import run_episode
from agentgym.rollout import collect


def test_policy_of_the_conversation_buys_right_across_concurrent_envs() -> None:
    probe = agentgym.make("WebShop-v0")
    ids = [f"test-{i}" for i in range(4)]
    goals = goals_for(probe.unwrapped, ids)
    probe.close()
    policy = ShopPolicy(goals)
    trajs = collect("WebShop-v0", FunctionAgent(policy), ids, concurrency=4, progress=False)
    assert [t.reward for t in trajs] == [1.0] * 4
    assert policy.calls == sum(t.num_turns for t in trajs)


def test_value_scores_the_right_purchase_one_and_a_wrong_one_zero() -> None:
    env = agentgym.make("WebShop-v0")
    base = env.unwrapped
    goals = goals_for(base, ["test-0"])
    value = shop_value(base.catalog, goals)

    async def play(eps: float, seed: int) -> tuple[float, list[float]]:
        policy = ShopPolicy(goals, eps, seed)
        traj = await run_episode(base, FunctionAgent(policy), "test-0")
        values, conv = [], list(traj.messages[:2])
        values.append(value(conv, None))
        for turn in traj.turns:
            conv += [turn.assistant, *turn.observation]
            values.append(value(conv, None))
        return traj.reward, values

    reward, values = asyncio.run(play(0.0, 0))
    assert reward == 1.0 and values[-1] == 1.0 and set(values[:-1]) == {0.5}
    # a noisy shopper that bought something else (or gave up) is scored 0 at the end
    for seed in range(40):
        reward, values = asyncio.run(play(0.6, seed))
        if reward < 1.0 and values and values[-1] == 0.0:
            break
    else:
        raise AssertionError("no failed noisy episode in 40 seeds")
    env.close()
