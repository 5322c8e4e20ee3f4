"""Many `WebShopEnv`s in one process share one shop server and, per event loop, one Chromium."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from agentgym.envs.web.shop.policies import ShopPolicy, goals_for
from agentgym.envs.web.webshop import SHOP_BROWSERS, SHOP_SERVERS, WebShopEnv
from agentgym.tools.shared import SharedPool

from agentgym.agents import FunctionAgent
from agentgym.rollout import acollect

# a catalogue no other test uses, so the holder counts below are this module's alone
CATALOG = {"catalog_seed": 11, "n_products": 300}
KEY = (11, 300, False)


def test_shared_pool_counts_holders_and_hands_back_the_last() -> None:
    pool: SharedPool[list[int]] = SharedPool("lists")
    made: list[int] = []
    a = pool.acquire("k", lambda: made.append(1) or [1])
    b = pool.acquire("k", lambda: made.append(2) or [2])
    assert a is b and made == [1] and pool.holders("k") == 2
    assert pool.release("k") is None and pool.holders("k") == 1
    assert pool.release("k") is a and pool.holders("k") == 0 and len(pool) == 0
    with pytest.raises(KeyError, match="lists"):
        pool.release("k")
    assert pool.acquire("k", lambda: [3]) == [3]  # made again after the last release


def test_http_envs_share_one_server_until_the_last_closes() -> None:
    before = set(threading.enumerate())
    envs = [WebShopEnv(**CATALOG) for _ in range(3)]
    assert SHOP_SERVERS.holders(KEY) == 3
    assert len({id(e.server) for e in envs}) == 1 and len({id(e.site) for e in envs}) == 1
    for i, env in enumerate(envs):
        env.reset(options={"task_id": f"test-{i}"})
    server = envs[0].server
    assert server.running and len({e.server.port for e in envs}) == 1
    envs[0].close()
    envs[0].close()  # a second close releases nothing more
    assert SHOP_SERVERS.holders(KEY) == 2 and server.running
    obs, *_ = envs[1].step("click('999')")  # the others still work
    assert "no element" in obs[-1]["content"]
    for env in envs[1:]:
        env.close()
    assert SHOP_SERVERS.holders(KEY) == 0 and not server.running
    assert set(threading.enumerate()) <= before


def test_unshared_envs_have_their_own_servers() -> None:
    a, b = WebShopEnv(shared=False, **CATALOG), WebShopEnv(shared=False, **CATALOG)
    try:
        assert a.server is not b.server and SHOP_SERVERS.holders(KEY) == 0
    finally:
        a.close()
        b.close()


@pytest.mark.browser
async def test_a_collect_pool_runs_one_chromium() -> None:
    """`collect` with 3 browser envs at once: one server, one browser process, a context per episode; the
    browser and the server stop when the last env closes."""
    ids = [f"test-{i}" for i in range(4)]
    envs: list[WebShopEnv] = []

    def make() -> WebShopEnv:
        envs.append(WebShopEnv(backend="browser", browser_kwargs={"max_contexts": 3}, **CATALOG))
        return envs[-1]

    probe = WebShopEnv(shared=False, **CATALOG)
    goals = goals_for(probe, ids)
    await probe.aclose()
    policy = ShopPolicy(goals)
    pids: set[int | None] = set()

    def act(messages: list[dict]) -> str:
        pids.update(e._backend.browser_pid for e in envs if e._backend is not None)
        return policy(messages)

    trajs = await acollect(make, FunctionAgent(act, name="shopper"), ids, concurrency=3, progress=False)
    assert len(envs) == 3 and all(t.error is None for t in trajs)
    assert [t.reward for t in trajs] == [1.0] * 4
    assert len(pids) == 1 and None not in pids  # one Chromium for the three envs
    pid = pids.pop()
    assert pid is not None
    assert SHOP_BROWSERS.holders((asyncio.get_running_loop(), (("max_contexts", 3),))) == 0
    assert SHOP_SERVERS.holders(KEY) == 0 and not envs[0].server.running
    for _ in range(50):  # the browser process is gone once the last env closed it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"Chromium {pid} still runs after every env closed")
