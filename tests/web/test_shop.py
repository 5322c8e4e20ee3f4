"""The local shop: catalogue, WebShop's reward, seeded tasks, the scripted shopper end to end, the server's
lifecycle, and `agentgym/WebShop-v0` (HTTP backend; browser parity when Chromium is here)."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from agentgym.envs.web.http_backend import HTTPBackend
from agentgym.envs.web.shop import (
    PRODUCT_TYPES,
    Catalog,
    Goal,
    Product,
    ShopOracle,
    ShopServer,
    ShopSite,
    drive,
    get_reward,
    shop_tasks,
    token_set_ratio,
)
from agentgym.envs.web.shop import catalog as catalog_module
from agentgym.envs.web.shop.catalog import tokens
from agentgym.tools.browser.axtext import render
from agentgym.tools.browser.base import WebAction

import agentgym
from agentgym.agents import FunctionAgent
from agentgym.episode import run_episode


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.generate()


@pytest.fixture(scope="module")
def server(catalog: Catalog) -> Iterator[ShopServer]:
    with ShopServer(ShopSite(catalog)) as srv:
        yield srv


# ---------------------------------------------------------------------------------------------- catalogue


def test_catalogue_is_seeded_and_large(catalog: Catalog) -> None:
    assert len(catalog) >= 4000
    assert {p.type_query for p in catalog.products} == {t.query for t in PRODUCT_TYPES}
    assert Catalog.generate(0, 4800) is catalog  # cached
    fresh = [catalog_module._generate.__wrapped__(0, 300) for _ in range(2)]  # uncached
    assert [p.to_dict() for p in fresh[0].products] == [p.to_dict() for p in fresh[1].products]
    other = Catalog.generate(1, 300)
    assert [p.title for p in other.products[:20]] != [p.title for p in fresh[0].products[:20]]
    for p in catalog.products[:500]:
        assert 2 <= len(p.attributes) <= 4 and all(p.options.values()) and p.price > 0
        assert catalog.get(p.id) is p


def test_attribute_pools_do_not_overlap() -> None:
    """A goal attribute must be met only by products that have it: no attribute's words are a subset of
    another's in the same type, and none is a whole word of the type's name."""
    for t in PRODUCT_TYPES:
        for a, b in itertools.permutations(t.attributes, 2):
            assert not set(a.split()) <= set(b.split()), (t.query, a, b)
            assert token_set_ratio(a, b) <= 85, (t.query, a, b)
        for a in t.attributes:
            assert not set(tokens(a)) <= set(tokens(t.name)), (t.query, a)


def test_products_mention_only_their_own_attributes(catalog: Catalog) -> None:
    by_type = {t.query: t for t in PRODUCT_TYPES}
    for p in catalog.products[:1500]:
        goal = Goal(p.id, p.type_query, p.type_name, p.category, tuple(p.name_nouns),
                    [a for a in by_type[p.type_query].attributes if a not in p.attributes], {}, 1e9)
        if goal.attributes:
            assert get_reward(p, goal).details["n_attributes"] == 0, p


def test_search_ranks_matching_products_first(catalog: Catalog) -> None:
    results = catalog.search("waterproof hiking boot")
    assert 0 < len(results) <= 50
    assert all(p.type_query == "hiking boots" for p in results[:10])
    assert all("waterproof" in p.attributes for p in results[:10])
    assert catalog.search("") == [] and catalog.search("zzzz qqqq") == []


# ---------------------------------------------------------------------------------------------- reward


def test_token_set_ratio() -> None:
    assert token_set_ratio("vegan leather", "leather vegan") == 100
    assert token_set_ratio("leather", "vegan leather") == 100
    assert token_set_ratio("black", "white") < 50


@pytest.fixture(scope="module")
def boot(catalog: Catalog) -> tuple[Product, Goal]:
    product = next(p for p in catalog.products if p.type_query == "hiking boots" and len(p.options["color"]) >= 2
                   and len(p.options["size"]) >= 2 and len(p.attributes) >= 2)
    goal = Goal(product.id, product.type_query, product.type_name, product.category, tuple(sorted(product.name_nouns)),
                product.attributes[:2], {"size": product.options["size"][0], "color": product.options["color"][0]},
                price_upper=product.price + 10)
    return product, goal


def test_reward_exact_match_is_one(boot: tuple[Product, Goal]) -> None:
    product, goal = boot
    r = get_reward(product, goal, product.price, dict(goal.options))
    assert (r.reward, r.r_type, r.r_att, r.r_option, r.r_price) == (1.0, 1.0, 1.0, 1.0, True)


def test_reward_wrong_option(boot: tuple[Product, Goal]) -> None:
    product, goal = boot
    wrong = {"size": product.options["size"][1], "color": goal.options["color"]}
    r = get_reward(product, goal, product.price, wrong)
    assert r.reward == pytest.approx((2 + 1 + 1) / 5) and r.r_option == 0.5
    none_chosen = get_reward(product, goal, product.price, {})
    assert none_chosen.reward == pytest.approx(3 / 5) and none_chosen.r_option == 0.0


def test_reward_over_budget(boot: tuple[Product, Goal]) -> None:
    product, goal = boot
    r = get_reward(product, goal, goal.price_upper + 0.01, dict(goal.options))
    assert r.reward == pytest.approx(4 / 5) and not r.r_price


def test_reward_wrong_type(catalog: Catalog, boot: tuple[Product, Goal]) -> None:
    _, goal = boot
    mug = next(p for p in catalog.products if p.type_query == "coffee mugs")
    r = get_reward(mug, goal, mug.price, {"capacity": mug.options["capacity"][0]})
    assert r.reward == 0.0 and r.r_type == 0.0
    # same category, another kind of boot: the type still matches (WebShop's rule); attributes decide
    rain = next(p for p in catalog.products if p.type_query == "rain boots")
    assert get_reward(rain, goal).r_type == 1.0
    assert get_reward(None, goal).reward == 0.0


def test_reward_of_missing_attribute(catalog: Catalog, boot: tuple[Product, Goal]) -> None:
    _product, goal = boot
    other = next(p for p in catalog.products if p.type_query == "hiking boots"
                 and not set(goal.attributes) & set(p.attributes)
                 and goal.options["size"] in p.options["size"] and goal.options["color"] in p.options["color"])
    r = get_reward(other, goal, other.price, dict(goal.options))
    assert r.r_att == 0.0 and r.reward < 1.0


# ---------------------------------------------------------------------------------------------- tasks


def test_tasks_are_seeded_and_splits_disjoint(catalog: Catalog) -> None:
    tasks = shop_tasks(catalog)
    assert tasks.get("test-7").prompt == shop_tasks(catalog).get("test-7").prompt
    train = {tasks.get(f"train-{i}").prompt for i in range(200)}
    test = {tasks.get(f"test-{i}").prompt for i in range(200)}
    assert not set(tasks.ids("train")[:1000]) & set(tasks.ids("test"))
    assert len(train & test) <= 2  # different seeds; a rare coincidence of two short goals is possible
    task = tasks.get("test-0")
    goal = Goal.from_dict(task.metadata["goal"])
    assert goal.instruction == task.prompt and task.answer == goal.product_id
    assert goal.type_name in task.prompt
    assert all(v in task.prompt for v in goal.options.values())
    assert f"{goal.price_upper:.0f}" in task.prompt
    target = catalog.get(goal.product_id)
    assert get_reward(target, goal, target.price, goal.options).reward == 1.0


# ---------------------------------------------------------------------------------------------- end to end


async def test_scripted_shopper_buys_right_on_many_tasks(catalog: Catalog, server: ShopServer) -> None:
    site, tasks = server.site, shop_tasks(catalog)
    backend = HTTPBackend(base_url=server.base_url)
    rewards, steps = [], []
    for i in range(32):
        goal = Goal.from_dict(tasks.get(f"test-{i}").metadata["goal"])
        sid = site.new_session()
        session = await backend.new_session()
        actions = await drive(session, goal, server.session_url(sid))
        bought = site.purchase(sid)
        assert bought is not None, (goal.instruction, actions)
        rewards.append(get_reward(catalog.get(bought.product_id), goal, bought.price, bought.options).reward)
        steps.append(len(actions))
        await session.close()
        site.end_session(sid)
    await backend.aclose()
    assert rewards == [1.0] * 32
    assert max(steps) <= 20


async def test_a_policy_buying_the_wrong_product_scores_below_one(catalog: Catalog, server: ShopServer) -> None:
    site, tasks = server.site, shop_tasks(catalog)
    backend = HTTPBackend(base_url=server.base_url)
    below = 0
    for i in range(6):
        goal = Goal.from_dict(tasks.get(f"test-{i}").metadata["goal"])
        other_type = next(t for t in PRODUCT_TYPES if not set(tokens(t.name)) & set(goal.name_nouns))
        sid = site.new_session()
        s = await backend.new_session()
        st = await s.goto(server.session_url(sid))
        # search for another kind of product, open the first result, buy it without choosing options
        box = next(line.split("]")[0].strip("\t[") for line in render(st).splitlines() if "textbox" in line)
        await s.act(WebAction("fill", {"bid": box, "value": other_type.name}))
        st = await s.act(WebAction("press", {"key": "Enter", "bid": box}))
        first = next(line for line in render(st).splitlines() if "] link '" in line
                     and not any(w in line for w in ("home", "Next >", "< Prev")))
        st = await s.act(WebAction("click", {"bid": first.split("]")[0].strip("\t[")}))
        buy = next(line for line in render(st).splitlines() if "button 'Buy Now'" in line)
        await s.act(WebAction("click", {"bid": buy.split("]")[0].strip("\t[")}))
        bought = site.purchase(sid)
        assert bought is not None and bought.options == {}
        r = get_reward(catalog.get(bought.product_id), goal, bought.price, bought.options)
        below += r.reward < 1.0
        assert r.reward == 0.0  # no type overlap at all
        await s.close()
    await backend.aclose()
    assert below == 6


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_server_start_stop_leaves_nothing_behind(catalog: Catalog) -> None:
    before = set(threading.enumerate())
    site = ShopSite(catalog)
    with ShopServer(site) as srv:
        port, thread = srv.port, srv.thread
        assert port and thread is not None and thread.is_alive() and _port_open(port)
        sid = site.new_session()
        assert "WebShop" in httpx.get(srv.session_url(sid)).text
        assert httpx.get(srv.url("/s/unknown/")).status_code == 404
    assert not thread.is_alive() and not _port_open(port) and srv.port is None
    assert set(threading.enumerate()) <= before
    srv2 = ShopServer(site).start()
    port2 = srv2.port
    srv2.close()
    srv2.close()  # idempotent
    assert not _port_open(port2) and not srv2.running
    assert set(threading.enumerate()) <= before


def test_webshop_env_with_the_oracle(catalog: Catalog) -> None:
    before = set(threading.enumerate())
    env = agentgym.make("agentgym/WebShop-v0", shared=False)  # its own server: stopped by its close
    base = env.unwrapped
    assert base.catalog is catalog  # cached: made once per (seed, size)
    agent = FunctionAgent(ShopOracle(base))
    for i in range(3):
        traj = base._runner.run(run_episode(base, agent, task_id=f"test-{i}"))
        assert traj.error is None, traj.error
        assert traj.reward == 1.0 and traj.success and traj.terminated
        assert traj.info["purchase"]["product_id"]
        assert traj.info["reward_parts"]["r_type"] == 1.0
    assert base.site.session_count == 0  # each episode's shop session was ended
    assert base.server.running
    env.close()
    assert not base.server.running
    assert set(threading.enumerate()) <= before


def test_webshop_env_observation_and_no_purchase(catalog: Catalog) -> None:
    env = agentgym.make("agentgym/WebShop-v0", max_turns=2)
    obs, info = env.reset(options={"task_id": "train-3"})
    text = obs[-1]["content"]
    assert text.startswith("Goal: " + env.unwrapped.tasks.get("train-3").prompt)
    assert "[2] textbox 'Search'" in text and "[3] button 'Search'" in text
    obs, r, term, trunc, info = env.step("click('999')")
    assert not term and r == 0.0 and "no element" in obs[-1]["content"]
    obs, r, term, trunc, info = env.step("fill('2', 'boots')")
    assert trunc and not term and r == 0.0 and not info["success"]
    env.close()
    with pytest.raises(ValueError, match="backend"):
        agentgym.make("agentgym/WebShop-v0", backend="carrier-pigeon")




@pytest.mark.browser
async def test_browser_and_http_backends_show_the_same_pages(catalog: Catalog, server: ShopServer) -> None:
    """The page text is a function of the HTML: the same shop pages read the same from both backends."""
    from agentgym.tools.browser.playwright_backend import PlaywrightBackend

    site = server.site
    goal = Goal.from_dict(shop_tasks(catalog).get("test-1").metadata["goal"])
    http, browser = HTTPBackend(base_url=server.base_url), PlaywrightBackend(max_contexts=1)
    try:
        sid = site.new_session()
        a, b = await http.new_session(), await browser.new_session()
        url = server.url(f"/s/{sid}/search?q={goal.type_name.replace(' ', '+')}")
        pa, pb = await a.goto(url), await b.goto(url)
        assert render(pa) == render(pb)
        link = next(line for line in render(pa).splitlines() if "] link '" in line
                    and not any(w in line for w in ("home", "Next >", "< Prev")))
        bid = link.split("]")[0].strip("\t[")
        pa, pb = await a.act(WebAction("click", {"bid": bid})), await b.act(WebAction("click", {"bid": bid}))
        assert "Buy Now" in render(pa) and render(pa) == render(pb)
        desc = next(line for line in render(pa).splitlines() if "link 'Description'" in line).split("]")[0].strip("\t[")
        pa, pb = await a.act(WebAction("click", {"bid": desc})), await b.act(WebAction("click", {"bid": desc}))
        assert render(pa) == render(pb)
        pa, pb = await a.act(WebAction("go_back")), await b.act(WebAction("go_back"))
        assert render(pa) == render(pb)

        # form state: what was typed, chosen and ticked reads the same (the browser copies it into attributes)
        async def both(action: WebAction) -> str:
            ta, tb = render(await a.act(action)), render(await b.act(action))
            assert ta == tb, action
            return ta

        product = next(p for p in catalog.products if "size" in p.options and len(p.options["size"]) >= 2
                       and "color" in p.options and len(p.options["color"]) >= 2)
        text = fresh = render(await a.goto(server.url(f"/s/{sid}/item/{product.id}")))
        assert render(await b.goto(server.url(f"/s/{sid}/item/{product.id}"))) == text
        size = _bid_of(text, "combobox 'size'")
        colors = [_bid_of(text, f"radio {v!r}") for v in product.options["color"][:2]]
        text = await both(WebAction("select_option", {"bid": size, "options": [product.options["size"][1]]}))
        assert f"combobox 'size' value={product.options['size'][1]!r}" in text
        text = await both(WebAction("click", {"bid": colors[0]}))
        assert f"radio {product.options['color'][0]!r} checked=true" in text
        text = await both(WebAction("click", {"bid": colors[1]}))
        assert f"radio {product.options['color'][0]!r} checked=false" in text
        assert f"radio {product.options['color'][1]!r} checked=true" in text
        text = await both(WebAction("select_option", {"bid": size, "options": [product.options["size"][0]]}))
        assert f"combobox 'size' value={product.options['size'][0]!r}" in text
        assert fresh != text
        text = render(await a.goto(server.session_url(sid)))
        assert render(await b.goto(server.session_url(sid))) == text
        box = _bid_of(text, "textbox 'Search'")
        text = await both(WebAction("fill", {"bid": box, "value": "red mug"}))
        assert "textbox 'Search' value='red mug'" in text
        text = await both(WebAction("fill", {"bid": box, "value": ""}))
        assert "value=" not in text
        await a.close()
        await b.close()
    finally:
        await http.aclose()
        await browser.aclose()


def _bid_of(text: str, marker: str) -> str:
    """The id of the first outline line of `text` that contains `marker`."""
    line = next(ln for ln in text.splitlines() if marker in ln and "] " in ln)
    return line.split("]")[0].strip("\t[")


@pytest.mark.browser
def test_oracle_buys_right_through_the_browser() -> None:
    """The scripted shopper reads the page text from the browser backend (form state included) and reaches
    reward 1, as it does through the HTTP backend."""
    env = agentgym.make("agentgym/WebShop-v0", backend="browser")
    base = env.unwrapped
    agent = FunctionAgent(ShopOracle(base))
    try:
        for i in range(3):
            traj = base._runner.run(run_episode(base, agent, task_id=f"test-{i}"))
            assert traj.error is None, traj.error
            assert traj.reward == 1.0 and traj.success and traj.terminated, [t.tool_calls for t in traj.turns]
    finally:
        env.close()
