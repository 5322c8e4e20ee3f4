"""Web env latency: agentgym's MiniWoB env (async Playwright, one browser, a context per episode) against
BrowserGym's own env for the same MiniWoB task (sync Playwright on a worker thread, a browser per reset),
measured in the same run on the same Chromium and the same local pages.

Each episode resets, reads the goal and clicks the right button (an oracle, so both envs do the same work);
printed per env: reset and step latency (median, p90) and the step ratio BrowserGym / agentgym.

    python bench/web_latency.py                       # click-button, 10 episodes each
    python bench/web_latency.py --episodes 20 --task click-button
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from typing import Any

import agentgym


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _click_right(env: Any, text: str, bid_pattern: str) -> tuple[float, float]:
    goal = re.search(r'Click on the "(.+?)" button', text).group(1)
    bid = re.search(bid_pattern.format(re.escape(goal)), text).group(1)
    t0 = time.perf_counter()
    _, reward, _, _, _ = env.step(f"click('{bid}')")
    return time.perf_counter() - t0, reward


def run(env_id: str, kwargs: dict[str, Any], episodes: int, bid_pattern: str) -> dict[str, Any]:
    env = agentgym.make(env_id, **kwargs)
    resets, steps, rewards = [], [], []
    try:
        for seed in range(episodes):
            t0 = time.perf_counter()
            obs, _ = env.reset(seed=seed)
            resets.append(time.perf_counter() - t0)
            step, reward = _click_right(env, obs[-1]["content"], bid_pattern)
            steps.append(step)
            rewards.append(reward)
    finally:
        env.close()
    return {"reset_p50": statistics.median(resets), "reset_p90": _pct(resets, 0.9),
            "step_p50": statistics.median(steps), "step_p90": _pct(steps, 0.9),
            "success": sum(r > 0 for r in rewards) / len(rewards)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--task", default="click-button", help="a MiniWoB task whose goal is 'Click on the \"X\" button'")
    args = p.parse_args()
    ours = run(f"miniwob.{args.task}-v0", {}, args.episodes, r"\[(\d+)\] button '{}'")
    theirs = run("BrowserGym-v0", {"task": f"browsergym/miniwob.{args.task}"}, args.episodes,
                 r"\[(\w+)\] button '{}'")
    for name, r in (("agentgym MiniWoBEnv", ours), ("BrowserGym (via BrowserGymEnv)", theirs)):
        print(f"{name:<32} reset p50 {r['reset_p50'] * 1000:7.0f} ms  p90 {r['reset_p90'] * 1000:7.0f} ms   "
              f"step p50 {r['step_p50'] * 1000:6.0f} ms  p90 {r['step_p90'] * 1000:6.0f} ms   "
              f"success {r['success']:.0%}")
    print(f"step ratio BrowserGym / agentgym: {theirs['step_p50'] / ours['step_p50']:.1f}x   "
          f"reset ratio: {theirs['reset_p50'] / ours['reset_p50']:.1f}x")


if __name__ == "__main__":
    main()
