"""Policy-document envs (`PolicyDoc-v0`): pass^1 and pass^k per workflow level, and env latency.

Agents: the policy oracle, the three rule-skipping oracles (never authenticate, never confirm, ignore nested
conditions) and SmolLM2-135M-Instruct (`hf:smollm2`, sampled at temperature 0.7, turn limit capped so a
CPU run ends). The user is the deterministic `ScriptedUser`. Latency: `reset` and `step` of the env with
the oracle acting (the step includes the scripted user's reply).

    python bench/policy_eval.py                      # oracle + skippers: 8 tasks x k=4 per level
    python bench/policy_eval.py --smollm-tasks 4     # also SmolLM2 on 4 tasks per level
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from agentgym.envs.policy import PolicyOracleAgent

import agentgym
from agentgym.agents.spec import make_agent
from agentgym.eval.metrics import summarize
from agentgym.rollout import collect

SKIPS = ("authenticate", "confirm", "nested_conditions")


def dials(level: int, args: argparse.Namespace) -> dict[str, Any]:
    return {"domain": args.domain, "env_level": args.env_level, "task_level": args.task_level,
            "workflow_level": level, "query_level": args.query_level, "num_tasks": args.tasks, "seed": args.seed,
            "test_every": 1}  # every generated task is evaluated


def pass_hat(agent: Any, kwargs: dict[str, Any], tasks: int, k: int) -> tuple[float, float, float]:
    trajs = collect("PolicyDoc-v0", agent, num_tasks=tasks, group_size=k, env_kwargs=kwargs, progress=False,
                    concurrency=4)
    s = summarize(trajs, k=k)
    return s.pass_hat_k.get("1", 0.0), s.pass_hat_k.get(str(k), 0.0), statistics.fmean(t.num_turns for t in trajs)


def latency(kwargs: dict[str, Any], episodes: int) -> tuple[float, float]:
    """Median reset and step seconds over `episodes` oracle episodes."""
    import asyncio

    env = agentgym.make("PolicyDoc-v0", **kwargs)
    oracle = PolicyOracleAgent()
    resets, steps = [], []

    async def play(task_id: str) -> None:
        t0 = time.perf_counter()
        messages, info = await env.areset(options={"task_id": task_id})
        resets.append(time.perf_counter() - t0)
        session = oracle.start_episode(messages, tools=None, stop=tuple(info.get("stop") or ()))
        while True:
            out = await session.next()
            t0 = time.perf_counter()
            obs, _r, term, trunc, _info = await env.astep(out.message)
            steps.append(time.perf_counter() - t0)
            if term or trunc:
                return
            session.observe(out, obs, False)

    for tid in env.tasks.ids()[:episodes]:
        asyncio.run(play(tid))
    env.close()
    return statistics.median(resets), statistics.median(steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", default="mixed")
    p.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 4], help="workflow levels")
    p.add_argument("--env-level", type=int, default=2)
    p.add_argument("--task-level", type=int, default=1)
    p.add_argument("--query-level", type=int, default=2)
    p.add_argument("--tasks", type=int, default=16, help="tasks per level")
    p.add_argument("--k", type=int, default=4, help="trials per task (pass^k)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smollm-tasks", type=int, default=0, help="tasks per level for hf:smollm2 (0: skip it)")
    p.add_argument("--smollm-max-turns", type=int, default=8)
    args = p.parse_args()

    rows = []
    smollm = make_agent("hf:smollm2", temperature=0.7, max_tokens=128) if args.smollm_tasks else None
    for level in args.levels:
        kwargs = dials(level, args)
        agents: list[tuple[str, Any, dict[str, Any], int]] = [("oracle", PolicyOracleAgent(), kwargs, args.tasks)]
        agents += [(f"skip {s}", PolicyOracleAgent(skip=s), kwargs, args.tasks) for s in SKIPS]
        if smollm is not None:
            agents.append(("SmolLM2-135M", smollm, {**kwargs, "max_turns": args.smollm_max_turns},
                           args.smollm_tasks))
        for name, agent, kw, n in agents:
            t0 = time.perf_counter()
            p1, pk, turns = pass_hat(agent, kw, n, args.k)
            rows.append((level, name, n, p1, pk, turns, time.perf_counter() - t0))
            print(f"workflow {level} {name:24s} tasks {n:3d}  pass^1 {p1:.3f}  pass^{args.k} {pk:.3f}  "
                  f"turns {turns:5.1f}  ({rows[-1][-1]:.1f} s)", flush=True)
    reset_s, step_s = latency(dials(max(args.levels), args), episodes=min(args.tasks, 8))
    print(f"\n| workflow level | agent | tasks x k | pass^1 | pass^{args.k} | turns/episode |")
    print("|---|---|---|---|---|---|")
    for level, name, n, p1, pk, turns, _ in rows:
        print(f"| {level} | {name} | {n} x {args.k} | {p1:.2f} | {pk:.2f} | {turns:.1f} |")
    print(f"\nenv latency (workflow {max(args.levels)}, oracle acting): reset p50 {reset_s * 1e3:.2f} ms, "
          f"step p50 {step_s * 1e3:.2f} ms (scripted user included)")


if __name__ == "__main__":
    main()
