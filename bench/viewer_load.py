"""Viewer load time: a 10,000-episode run opened in headless Chromium.

Generates a synthetic eval run with realistic transcripts through the real `Trajectory` / `TrajectoryStore`
classes (Arithmetic-v0's real system prompt and tasks, 2-4 Hermes tool-call turns per episode with tool results,
some tool errors, token counts and per-token log-probs, 2,500 tasks x 4 trials), builds the report with
`agentgym.viewer.build_report`, and times navigation to "list rendered" (the page's own mark, taken when the
episode list is in the DOM; and the first frame after it) over several fresh page loads. Prints the medians,
the load event, the time to open one episode, the build time and the HTML size next to the JSONL size.

    python bench/viewer_load.py [--episodes 10000] [--trials 4] [--loads 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import agentgym
from agentgym.trajectory import Trajectory, TrajectoryStore, Turn
from agentgym.viewer import build_report


def call(name: str, **arguments: str) -> str:
    import json

    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def synthetic_run(path: Path, episodes: int, trials: int, seed: int = 0) -> Path:
    """`episodes` Arithmetic-v0-style trajectories (episodes / trials tasks) in `path/trajectories.jsonl`."""
    rng = random.Random(seed)
    env = agentgym.make("Arithmetic-v0")
    tasks = env.unwrapped.tasks
    n_tasks = episodes // trials
    path.mkdir(parents=True, exist_ok=True)
    with TrajectoryStore(path / "trajectories.jsonl") as store:
        for i in range(n_tasks):
            task_id = f"test-{i}"
            messages, _ = env.reset(options={"task_id": task_id})
            gold = int(tasks.get(task_id).answer)
            skill = rng.random()
            for k in range(trials):
                turns: list[Turn] = []
                n_calc = rng.randint(1, 3)
                for j in range(n_calc):
                    bad = rng.random() < 0.08
                    expr = "2 +* 3" if bad else f"{gold - j} + {j}"
                    text = f"Step {j + 1}: I compute {expr} with the calculator.\n" + call("calculator", expression=expr)
                    result = (f"Error: 'calculator' failed: ValueError: cannot parse {expr!r} as arithmetic" if bad
                              else str(gold))
                    ct = rng.randint(20, 60)
                    turns.append(Turn(assistant={"role": "assistant", "content": text},
                                      observation=[{"role": "user", "content": f"<tool_response>\n{result}\n</tool_response>"}],
                                      token_ids=[rng.randrange(50000) for _ in range(ct)],
                                      logprobs=[-rng.expovariate(3.0) for _ in range(ct)],
                                      prompt_tokens=400 + 80 * j, completion_tokens=ct, tool_calls=["calculator"],
                                      agent_seconds=rng.uniform(0.2, 1.5), env_seconds=rng.uniform(1e-4, 1e-3)))
                ok = rng.random() < skill
                answer = gold if ok else gold + rng.randint(1, 9)
                ct = rng.randint(15, 30)
                turns.append(Turn(assistant={"role": "assistant", "content": f"The answer is {answer}.\n"
                                             + call("answer", answer=str(answer))},
                                  observation=[{"role": "user", "content": "<tool_response>\nAnswer submitted.\n</tool_response>"}],
                                  reward=float(ok), token_ids=[rng.randrange(50000) for _ in range(ct)],
                                  logprobs=[-rng.expovariate(3.0) for _ in range(ct)], prompt_tokens=400 + 80 * n_calc,
                                  completion_tokens=ct, tool_calls=["answer"], agent_seconds=rng.uniform(0.2, 1.0)))
                store.append(Trajectory(
                    f"{task_id}#{k}", "agentgym/Arithmetic-v0", task_id, "openai:model", sample_index=k,
                    messages=messages, turns=turns, reward=float(ok), terminated=True, success=ok, answer=str(answer),
                    reward_components={"correct": float(ok), "used_calculator": 1.0, "answered": 1.0},
                    started_at=time.time(), seconds=sum(t.agent_seconds + t.env_seconds for t in turns)))
    env.close()
    return path


def measure(report: Path, loads: int) -> dict[str, list[float]]:
    from agentgym.tools.browser.chromium import CHROMIUM_ARGS, find_chromium
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"list": [], "painted": [], "load": [], "wall": [], "open": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=list(CHROMIUM_ARGS), headless=True)
        try:
            for _ in range(loads):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                t0 = time.perf_counter()
                page.goto(report.resolve().as_uri(), wait_until="load", timeout=120_000)
                page.wait_for_selector("html[data-ready]")
                out["wall"].append(time.perf_counter() - t0)
                marks = page.evaluate("""() => new Promise(done => requestAnimationFrame(() => setTimeout(() => {
                    const nav = performance.getEntriesByType("navigation")[0];
                    done({list: window.__agViewer.listRendered, painted: window.__agViewer.painted,
                          load: nav.loadEventEnd}); }, 0)))""")
                for key in ("list", "painted", "load"):
                    out[key].append(marks[key] / 1000)
                t1 = time.perf_counter()
                page.evaluate("() => { location.hash = '#/episode/5000'; }")
                page.locator("#view-episode [data-testid=tool-call]").first.wait_for()
                out["open"].append(time.perf_counter() - t1)
                assert not errors, errors
                context.close()
        finally:
            browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--loads", type=int, default=7)
    ap.add_argument("--keep", default=None, help="write the run and report here instead of a temp folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        t0 = time.perf_counter()
        run = synthetic_run(root / "run", args.episodes, args.trials)
        t1 = time.perf_counter()
        report = build_report([run], root / "report.html")
        t2 = time.perf_counter()
        jsonl = (run / "trajectories.jsonl").stat().st_size
        html = report.stat().st_size
        print(f"{args.episodes} episodes: trajectories.jsonl {jsonl / 1e6:.1f} MB (generated in {t1 - t0:.1f} s); "
              f"report.html {html / 1e6:.1f} MB = {html / jsonl:.2f} x the JSONL, {html / args.episodes / 1e3:.2f} KB "
              f"per episode (built in {t2 - t1:.1f} s)")
        times = measure(report, args.loads)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"median over {args.loads} fresh page loads in headless Chromium: list rendered {med['list']:.2f} s, "
              f"first frame after it {med['painted']:.2f} s, load event {med['load']:.2f} s, "
              f"navigation to ready seen from Playwright {med['wall']:.2f} s; opening an episode {med['open']:.2f} s")
        print("all list-rendered times (s): " + ", ".join(f"{x:.2f}" for x in times["list"]))


if __name__ == "__main__":
    main()
