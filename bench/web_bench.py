"""Web envs benchmark: the local shop (`WebShop-v0`) on both backends, browser memory, the MiniWoB anchor against
BrowserGym, tree search against greedy at equal policy calls, and SmolLM2-135M on MiniWoB tasks. Prints one
markdown table; every ratio is against a peer measured in the same run.

Parts (`--parts a,b,...`, default all but `f`):

a. env step latency (the action and the new observation, `env.step`), p50/p95, shop oracle acting, backend
   "http" vs "browser" (ratio browser / http).
b. episodes/s of `agentgym.rollout.collect` with the oracle, concurrency 8 vs 1 (ratio), per backend; the
   browser rows share one Chromium (one context per episode), plus the default `WebShop-v0(backend="browser")`
   at concurrency 8, where every env instance launches its own Chromium.
c. memory per browser context: the Chromium process tree's RSS and PSS (from /proc) with 1 and 8 open sessions
   on a shop page, (8 - 1) / 7.
d. the MiniWoB anchor: `miniwob.<task>-v0` against BrowserGym's own env on the same task, same Chromium, same
   pages (`bench/web_latency.py`'s oracle episodes): step and reset p50, ratio BrowserGym / ours.
e. an epsilon-policy on the shop (the scripted shopper; with probability eps its action is replaced by a click on
   a random other element): greedy vs `TreeSearchAgent` with a scripted value at equal policy calls (a greedy
   task gets episodes until it succeeds or has used as many policy calls as the search used on that task).
f. SmolLM2-135M-Instruct (`hf:smollm2`) on MiniWoB click-button, click-link and enter-text: greedy decoding, and
   `TreeSearchAgent` with SmolLM2 sampling (T=0.7) and SmolLM2 itself as the LLM judge (n=1), small budget.

    python bench/web_bench.py                      # parts a-e, ~3 min on 2 cores
    python bench/web_bench.py --parts a,b,c,d,e,f  # everything (f adds several minutes of CPU generation)
    python bench/web_bench.py --parts e --eps 0.3 --search-tasks 50

Part e's policy and value function are `agentgym.envs.web.shop.policies.ShopPolicy` and `shop_value` (its
docstring defines the value).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentgym.envs.web.shop import Catalog, Goal, ShopServer, ShopSite
from agentgym.envs.web.shop.policies import ShopPolicy, goals_for, shop_value
from agentgym.envs.web.webshop import WebShopEnv

import agentgym
from agentgym.agents import FunctionAgent
from agentgym.episode import run_episode
from agentgym.rollout import acollect

Row = tuple[str, str, str]


def pct(xs: Sequence[float], q: float) -> float:
    """The q-quantile of `xs` (nearest rank)."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 0.1 else f"{x * 1000:.0f} ms"


# ------------------------------------------------------------------------------------------------ parts


def part_a(episodes: int) -> list[Row]:
    """Step latency per backend, oracle acting, sequential."""
    results: dict[str, dict[str, float]] = {}
    for kind in ("http", "browser"):
        env = agentgym.make("WebShop-v0", backend=kind)
        base = env.unwrapped
        ids = [f"test-{i}" for i in range(episodes)]
        policy = ShopPolicy(goals_for(base, ids))
        steps, resets, rewards = [], [], []
        try:
            env.reset(options={"task_id": ids[0]})  # warm up: server, browser
            for tid in ids:
                t0 = time.perf_counter()
                obs, _ = env.reset(options={"task_id": tid})
                resets.append(time.perf_counter() - t0)
                conv = list(obs)
                done = False
                while not done:
                    action = policy(conv)
                    t0 = time.perf_counter()
                    new, reward, term, trunc, _ = env.step(action)
                    steps.append(time.perf_counter() - t0)
                    conv += [{"role": "assistant", "content": action}, *new]
                    done = term or trunc
                rewards.append(reward)
        finally:
            env.close()
        results[kind] = {"p50": statistics.median(steps), "p95": pct(steps, 0.95), "n": len(steps),
                         "reset": statistics.median(resets), "success": sum(r >= 1 for r in rewards) / len(rewards)}
    h, b = results["http"], results["browser"]
    rows = []
    for kind, r in results.items():
        rows.append(("a", f"WebShop-v0 `env.step` latency, backend {kind} ({episodes} oracle episodes, {r['n']} steps)",
                     f"p50 {ms(r['p50'])}, p95 {ms(r['p95'])}; reset p50 {ms(r['reset'])}; oracle success "
                     f"{r['success']:.0%}"))
    rows.append(("a", "step latency ratio browser / http", f"p50 **{b['p50'] / h['p50']:.1f}x**, p95 "
                 f"{b['p95'] / h['p95']:.1f}x"))
    return rows


async def _collect_rate(make_env: Callable[[], Any], ids: list[str], goals: dict[str, Goal],
                        concurrency: int) -> tuple[float, float]:
    agent = FunctionAgent(ShopPolicy(goals), name="shop-oracle")
    t0 = time.perf_counter()
    trajs = await acollect(make_env, agent, ids, concurrency=concurrency, progress=False)
    dt = time.perf_counter() - t0
    return len(trajs) / dt, sum(t.reward >= 1 for t in trajs) / len(trajs)


def part_b(episodes: int) -> list[Row]:
    """Episodes/s with `collect`, concurrency 8 vs 1."""
    rows: list[Row] = []
    ids = [f"test-{i}" for i in range(episodes)]

    async def shared(kind: str) -> dict[int, tuple[float, float]]:
        def make() -> WebShopEnv:  # every env of the process shares one server (and, per loop, one browser)
            return WebShopEnv(backend=kind, browser_kwargs={"max_contexts": 8})

        anchor = make()  # holds the shared server and browser between the collections
        try:
            await anchor.areset()
            goals = goals_for(anchor, ids)
            await _collect_rate(make, ids[:2], goals, 2)  # warm up
            return {c: await _collect_rate(make, ids, goals, c) for c in (1, 8)}
        finally:
            await anchor.aclose()

    for kind in ("http", "browser"):
        r = asyncio.run(shared(kind))
        what = "one shop server, one HTTPBackend" if kind == "http" else "one Chromium, a context per episode"
        rows.append(("b", f"`collect` episodes/s, backend {kind} ({what}), {episodes} oracle episodes",
                     f"concurrency 1: {r[1][0]:.2f}/s, concurrency 8: {r[8][0]:.2f}/s = **{r[8][0] / r[1][0]:.2f}x**; "
                     f"success {r[8][1]:.0%}"))

    async def default_browser() -> tuple[float, float]:
        probe = WebShopEnv()
        goals = goals_for(probe, ids)
        probe.close()
        return await _collect_rate(lambda: agentgym.make("WebShop-v0", backend="browser", shared=False), ids,
                                   goals, 8)

    rate, ok = asyncio.run(default_browser())
    rows.append(("b", f"`collect(\"WebShop-v0\", env_kwargs backend=\"browser\", shared=False)`, concurrency 8 (each "
                 f"env its own Chromium and server), {episodes} episodes",
                 f"{rate:.2f}/s (browser launches included); success {ok:.0%}"))
    return rows


def _tree(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rfind(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parents.items() if pp == p]
    return out


def _mem_kb(pids: list[int], field: str, filename: str) -> int:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/{filename}").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def part_c() -> list[Row]:
    """Chromium tree memory with 1 and 8 open sessions."""

    async def main() -> dict[int, tuple[int, int, int]]:
        from agentgym.tools.browser.playwright_backend import PlaywrightBackend

        server = ShopServer(ShopSite(Catalog.generate())).start()
        backend = PlaywrightBackend(max_contexts=8)
        out: dict[int, tuple[int, int, int]] = {}
        sessions = []
        try:
            for n in (1, 8):
                while len(sessions) < n:
                    s = await backend.new_session()
                    sid = server.site.new_session()
                    await s.goto(server.url(f"/s/{sid}/search?q=hiking+boots"))
                    sessions.append(s)
                await asyncio.sleep(1.0)
                pid = backend.browser_pid
                pids = _tree(pid)
                out[n] = (_mem_kb(pids, "VmRSS", "status"), _mem_kb(pids, "Pss", "smaps_rollup"), len(pids))
        finally:
            for s in sessions:
                await s.close()
            await backend.aclose()
            server.close()
        return out

    m = asyncio.run(main())
    (r1, p1, n1), (r8, p8, n8) = m[1], m[8]
    return [("c", "Chromium process tree, 1 vs 8 open contexts on a shop results page",
             f"RSS {r1 / 1024:.0f} -> {r8 / 1024:.0f} MiB, PSS {p1 / 1024:.0f} -> {p8 / 1024:.0f} MiB "
             f"({n1} -> {n8} processes); per context **{(r8 - r1) / 7 / 1024:.0f} MiB RSS**, "
             f"{(p8 - p1) / 7 / 1024:.0f} MiB PSS")]


def part_d(episodes: int, task: str) -> list[Row]:
    """MiniWoB through our env and through BrowserGym's, same run."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from web_latency import run as latency_run

    ours = latency_run(f"miniwob.{task}-v0", {}, episodes, r"\[(\d+)\] button '{}'")
    theirs = latency_run("BrowserGym-v0", {"task": f"browsergym/miniwob.{task}"}, episodes, r"\[(\w+)\] button '{}'")
    return [("d", f"MiniWoB {task}, {episodes} oracle episodes each: agentgym `miniwob.{task}-v0` vs BrowserGym's env",
             f"step p50 {ms(ours['step_p50'])} vs {ms(theirs['step_p50'])} = **{theirs['step_p50'] / ours['step_p50']:.1f}x** "
             f"(BrowserGym / ours); reset p50 {ms(ours['reset_p50'])} vs {ms(theirs['reset_p50'])} = "
             f"{theirs['reset_p50'] / ours['reset_p50']:.1f}x; success {ours['success']:.0%} / {theirs['success']:.0%}")]


def part_e(n_tasks: int, eps: float, depth: int, branching: int, samples: int, budget: int) -> list[Row]:
    """Greedy vs tree search at equal policy calls, epsilon-policy on the shop (HTTP backend)."""
    from agentgym.search_agents import TreeSearchAgent

    async def main() -> dict[str, Any]:
        ids = [f"test-{i}" for i in range(n_tasks)]
        probe = WebShopEnv(max_turns=20)  # later envs share its shop server
        goals = goals_for(probe, ids)
        value = shop_value(probe.catalog, goals)
        res: dict[str, Any] = {"search": [], "search_calls": [], "greedy": [], "greedy_calls": [], "greedy_first": [],
                               "greedy_episodes": [], "search_reward": []}
        try:
            for k, tid in enumerate(ids):
                policy = ShopPolicy(goals, eps, seed=k)
                agent = TreeSearchAgent(FunctionAgent(policy, name="eps-shopper"), lambda: WebShopEnv(max_turns=20),
                                        value, max_depth=depth, branching=branching, num_samples=samples,
                                        budget=budget)
                traj = await run_episode(probe, agent, tid)
                await agent.aclose()
                res["search"].append(traj.reward >= 1.0)
                res["search_reward"].append(traj.reward)
                res["search_calls"].append(policy.calls)
                greedy = ShopPolicy(goals, eps, seed=10_000 + k)
                ok, first, episodes = False, None, 0
                while greedy.calls < policy.calls and not ok:
                    g = await run_episode(probe, FunctionAgent(greedy, name="eps-shopper"), tid)
                    ok = g.reward >= 1.0
                    episodes += 1
                    first = ok if first is None else first
                res["greedy"].append(ok)
                res["greedy_first"].append(bool(first))
                res["greedy_calls"].append(greedy.calls)
                res["greedy_episodes"].append(episodes)
        finally:
            await probe.aclose()
        return res

    t0 = time.perf_counter()
    r = asyncio.run(main())
    dt = time.perf_counter() - t0
    n = len(r["search"])
    cfg = f"d={depth}, b={branching}, {samples} samples/expansion, budget {budget}"
    return [
        ("e", f"shop, eps={eps} policy, {n} tasks (HTTP backend): greedy, one episode", f"success {sum(r['greedy_first']) / n:.0%}"),
        ("e", "... greedy with retries up to the search's policy calls",
         f"success **{sum(r['greedy']) / n:.0%}**, {statistics.mean(r['greedy_calls']):.0f} calls and "
         f"{statistics.mean(r['greedy_episodes']):.1f} episodes per task"),
        ("e", f"... `TreeSearchAgent` ({cfg}), scripted value",
         f"success **{sum(r['search']) / n:.0%}** (mean reward {statistics.mean(r['search_reward']):.2f}), "
         f"{statistics.mean(r['search_calls']):.0f} policy calls per task; part e took {dt:.0f} s"),
    ]


def part_f(episodes: int, search_episodes: int, max_turns: int) -> list[Row]:
    """SmolLM2-135M on three MiniWoB tasks, greedy and with tree search."""
    from agentgym.agents import make_agent
    from agentgym.search_agents import LLMJudge, TreeSearchAgent

    rows: list[Row] = []
    tasks = ("click-button", "click-link", "enter-text")
    greedy_agent = make_agent("hf:smollm2", temperature=0.0, max_tokens=32)
    sampler = make_agent("hf:smollm2", temperature=0.7, max_tokens=32)

    async def one(task: str, agent: Any, episodes: int) -> tuple[float, float, int]:
        env = agentgym.make(f"miniwob.{task}-v0", max_turns=max_turns)
        t0 = time.perf_counter()
        rewards, calls = [], 0
        try:
            for i in range(episodes):
                traj = await run_episode(env.unwrapped, agent, f"test-{i}")
                rewards.append(traj.reward)
                trees = traj.info.get("search_tree") or []
                calls += sum(t["policy_calls"] for t in trees) if trees else traj.num_turns
        finally:
            await env.unwrapped.aclose()
        return statistics.mean(rewards), time.perf_counter() - t0, calls

    async def main() -> None:
        for task in tasks:
            g, gdt, gcalls = await one(task, greedy_agent, episodes)
            judge = LLMJudge(sampler, n=1)
            search = TreeSearchAgent(sampler, lambda t=task: agentgym.make(f"miniwob.{t}-v0", max_turns=max_turns),
                                     judge, max_depth=1, branching=2, num_samples=2, budget=2)
            try:
                s, sdt, scalls = await one(task, search, search_episodes)
            finally:
                for e in search._all:
                    await e.unwrapped.aclose()
                search._all, search._free = [], []
            rows.append(("f", f"SmolLM2-135M (`hf:smollm2`, 32 new tokens a turn), MiniWoB {task}, max_turns {max_turns}",
                         f"greedy: success {g:.0%} of {episodes} episodes ({gcalls} policy calls, {gdt:.0f} s); "
                         f"tree search (T=0.7, SmolLM2 judge n=1, d=1, b=2, budget 2): {s:.0%} of {search_episodes} "
                         f"({scalls} policy calls, {sdt:.0f} s)"))
        await greedy_agent.aclose()
        await sampler.aclose()

    asyncio.run(main())
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="a,b,c,d,e", help="comma-separated parts to run (a-f)")
    p.add_argument("--latency-episodes", type=int, default=10, help="part a: oracle episodes per backend")
    p.add_argument("--collect-episodes", type=int, default=24, help="part b: episodes per measurement")
    p.add_argument("--miniwob-episodes", type=int, default=10, help="part d: episodes per env")
    p.add_argument("--miniwob-task", default="click-button")
    p.add_argument("--search-tasks", type=int, default=20, help="part e: shop tasks")
    p.add_argument("--eps", type=lambda v: [float(x) for x in v.split(",")], default=[0.3, 0.5],
                   help="part e: probabilities of a random wrong click, comma-separated")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--branching", type=int, default=3)
    p.add_argument("--samples", type=int, default=5)
    p.add_argument("--budget", type=int, default=8)
    p.add_argument("--smollm-episodes", type=int, default=5, help="part f: greedy episodes per task")
    p.add_argument("--smollm-search-episodes", type=int, default=2, help="part f: tree-search episodes per task")
    p.add_argument("--smollm-turns", type=int, default=4)
    args = p.parse_args()
    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    unknown = set(parts) - set("abcdef")
    if unknown:
        p.error(f"unknown parts: {', '.join(sorted(unknown))}")
    runners: dict[str, Callable[[], list[Row]]] = {
        "a": lambda: part_a(args.latency_episodes),
        "b": lambda: part_b(args.collect_episodes),
        "c": part_c,
        "d": lambda: part_d(args.miniwob_episodes, args.miniwob_task),
        "e": lambda: [row for eps in args.eps for row in
                      part_e(args.search_tasks, eps, args.depth, args.branching, args.samples, args.budget)],
        "f": lambda: part_f(args.smollm_episodes, args.smollm_search_episodes, args.smollm_turns),
    }
    rows: list[Row] = []
    t_all = time.perf_counter()
    for part in parts:
        t0 = time.perf_counter()
        new = runners[part]()
        rows += new
        for r in new:
            print(f"[{r[0]}] {r[1]}: {r[2]}", flush=True)
        print(f"  (part {part}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{time.perf_counter() - t_all:.0f} s in all\n")
    print("| part | what | result |\n|---|---|---|")
    for part, what, result in rows:
        print(f"| {part} | {what} | {result} |")


if __name__ == "__main__":
    main()
