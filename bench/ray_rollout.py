"""Episodes per second with Ray rollout workers vs in-process, on an env whose steps burn CPU.

`SlowArithmetic` is `Arithmetic-v0` whose every step first spins the CPU for `--step-ms` (a tool that
computes: a Python sandbox, a parser, a simulator). In-process, `collect` overlaps waiting but not
computing, so its episodes run one step at a time; N workers are N processes. Printed: episodes/s
in-process, with 1 worker and with N workers, each timed after a warm-up run (Ray's start-up is not
counted), and the ratios to in-process.

    python bench/ray_rollout.py                       # 2 workers, 80 two-step episodes, 20 ms steps
    python bench/ray_rollout.py --workers 4 --episodes 200 --step-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from typing import Any

from agentgym.envs.arithmetic.env import ArithmeticEnv

from agentgym.agents import FunctionAgent

STEP_MS = 20.0


class SlowArithmetic(ArithmeticEnv):
    """Arithmetic-v0 whose steps spin the CPU for `STEP_MS` ms first (picklable by value from __main__)."""

    step_ms = STEP_MS

    async def astep(self, action: Any) -> Any:
        end = time.perf_counter() + self.step_ms / 1000
        while time.perf_counter() < end:
            pass
        return await super().astep(action)


def two_steps(messages: Sequence[dict[str, Any]]) -> str:
    """Calculator first, then an answer: two env steps per episode."""
    if any(m["role"] == "assistant" for m in messages):
        return '<tool_call>{"name": "answer", "arguments": {"answer": "42"}}</tool_call>'
    return '<tool_call>{"name": "calculator", "arguments": {"expression": "6*7"}}</tool_call>'


async def timed(runner: Any, env: Any, episodes: int, concurrency: int) -> float:
    from agentgym.rollout import acollect

    t0 = time.perf_counter()
    trajs = await acollect(env, runner, num_tasks=episodes, progress=False, concurrency=concurrency)
    assert len(trajs) == episodes and all(t.finished for t in trajs)
    return episodes / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=80)
    parser.add_argument("--step-ms", type=float, default=STEP_MS)
    parser.add_argument("--concurrency", type=int, default=8, help="episodes in flight (per worker with Ray)")
    args = parser.parse_args()
    SlowArithmetic.step_ms = args.step_ms
    import ray

    from agentgym.distributed import RayRolloutPool

    agent = FunctionAgent(two_steps)
    rates = {"in-process": asyncio.run(timed(agent, SlowArithmetic, args.episodes, args.concurrency))}
    ray.init(num_cpus=max(args.workers, 1), include_dashboard=False, log_to_driver=False)
    try:
        for n in sorted({1, args.workers}):
            with RayRolloutPool(SlowArithmetic, agent, n, concurrency=args.concurrency) as pool:
                asyncio.run(timed(pool, SlowArithmetic, max(n * 2, 4), args.concurrency))  # warm-up
                rates[f"{n} worker{'s' if n > 1 else ''}"] = asyncio.run(
                    timed(pool, SlowArithmetic, args.episodes, args.concurrency))
    finally:
        ray.shutdown()
    base = rates["in-process"]
    print(f"{args.episodes} episodes x 2 steps of {args.step_ms:g} ms CPU each")
    for name, rate in rates.items():
        print(f"{name:<12} {rate:7.1f} episodes/s  x{rate / base:.2f}")


if __name__ == "__main__":
    main()
