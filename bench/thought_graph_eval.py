"""Thought-graph policies compared: success and reasoner calls per task size for IO, CoT, ToT, the Graph of
Thoughts schedule and the ARIES policy.

    python bench/thought_graph_eval.py                       # the schedules, programmatic reasoner, 50 tasks each
    python bench/thought_graph_eval.py --tasks 10 --families sorting
    python bench/thought_graph_eval.py --smollm --tasks 5    # + SmolLM2-135M (hf:smollm2) as the ARIES policy over
                                                             #   the programmatic reasoner, and as the reasoner
                                                             #   under IO, CoT and GoT (sorting-32, 3 tasks)

Every row is measured in this run on the same held-out task ids ("test-0" ...) of each env; the GoT schedule is
the published one (parts of 16 items for sorting and set intersection, 4 parts for keyword counting, 2 for
document merging; 5 candidates per part, 10 merge tries, one refinement); ToT is 10 candidates then 2 rounds of
10 refinements of the best. CoT equals IO under the programmatic reasoner (its reasoning is inside the reasoner's
call). `calls` is reasoner calls per episode; `turns` the policy's turns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SIZES = {"sorting": (32, 64, 128), "set_intersection": (32, 64, 128), "keyword_counting": (16,),
         "doc_merging": (32,)}
GOT_PARTS = {"keyword_counting": 4, "doc_merging": 2}


def env_id(family: str, size: int) -> str:
    if family in ("sorting", "set_intersection"):
        return f"thought_graph.{family}{size}-v0"
    return f"thought_graph.{family}-v0"


def schedule(name: str, family: str, size: int) -> Any:
    from agentgym.envs.thought_graph import schedule_agent

    if name == "got":
        parts = GOT_PARTS.get(family)
        return schedule_agent("got", size=size) if parts is None else schedule_agent("got", parts=parts)
    if name == "tot":
        return schedule_agent("tot", k=10, rounds=2)
    return schedule_agent(name)


def run(env: str, agent: Any, tasks: int, env_kwargs: dict[str, Any], concurrency: int) -> dict[str, Any]:
    from agentgym.rollout import collect

    t0 = time.perf_counter()
    trajs = collect(env, agent, [f"test-{i}" for i in range(tasks)], concurrency=concurrency, progress=False,
                    env_kwargs=env_kwargs)
    calls = [t.info.get("reasoner_usage", {}).get("calls", 0) for t in trajs]
    return {"success": statistics.mean(float(t.success) for t in trajs), "n": len(trajs),
            "calls": statistics.mean(calls), "turns": statistics.mean(len(t.turns) for t in trajs),
            "errors": sum(t.error is not None for t in trajs), "seconds": time.perf_counter() - t0,
            "first_error": next((t.error for t in trajs if t.error is not None), None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--families", nargs="*", default=list(SIZES))
    ap.add_argument("--schedules", nargs="*", default=["io", "cot", "tot", "got"])
    ap.add_argument("--smollm", action="store_true", help="also SmolLM2 as the ARIES policy and as the reasoner")
    ap.add_argument("--ensemble", type=int, default=5, help="ARIES action-ensemble size")
    ap.add_argument("--smollm-families", nargs="*", default=["sorting"])
    ap.add_argument("--smollm-tasks", type=int, default=3)
    ap.add_argument("--smollm-turns", type=int, default=12, help="the ARIES policy's turn limit")
    ap.add_argument("--smollm-tokens", type=int, default=256, help="new tokens per SmolLM2 call")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", help="write the rows as JSON here")
    a = ap.parse_args()

    rows = []
    print(f"{'env':38} {'policy':28} {'reasoner':14} {'success':>8} {'calls':>7} {'turns':>6} {'s':>6}")

    def report(env: str, policy: str, reasoner: str, r: dict[str, Any]) -> None:
        rows.append({"env": env, "policy": policy, "reasoner": reasoner, **r})
        print(f"{env:38} {policy:28} {reasoner:14} {r['success']:8.0%} {r['calls']:7.1f} {r['turns']:6.1f} "
              f"{r['seconds']:6.0f}" + (f"  ({r['errors']} errored: {r['first_error'][-300:]!r})" if r["errors"] else ""),
              flush=True)

    for family in a.families:
        for size in SIZES[family]:
            env = env_id(family, size)
            for name in a.schedules:
                report(env, name, "programmatic", run(env, schedule(name, family, size), a.tasks, {}, a.concurrency))
    if a.smollm:
        from agentgym.envs.thought_graph.aries import aries_policy
        from agentgym.envs.thought_graph.llm_reasoner import LLMReasoner

        from agentgym.agents import make_agent

        smollm = make_agent("hf:smollm2", max_tokens=a.smollm_tokens, temperature=0.7)
        for family in a.smollm_families:
            size = SIZES[family][0]
            env = env_id(family, size)
            # ARIES re-prompts the policy with the graph and the action history each step: context="graph"
            policy = aries_policy(smollm, ensemble=a.ensemble)
            report(env, f"aries(smollm2, n={a.ensemble})", "programmatic",
                   run(env, policy, a.smollm_tasks, {"context": "graph", "max_turns": a.smollm_turns}, 1))
            for name, reasoner in (("io", LLMReasoner(smollm)), ("cot", LLMReasoner(smollm, chain_of_thought=True)),
                                   ("got", LLMReasoner(smollm))):
                report(env, name, "smollm2", run(env, schedule(name, family, size), a.smollm_tasks,
                                                 {"reasoner": reasoner}, 1))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
