"""GRPO, TAPO, IGPO and EAPO side by side: same model, seed, questions and wall-clock budget.

All four train on the same 2-hop MultiHopQA questions, each through its own protocol (GRPO and IGPO:
`<search>`/`<answer>` tags; TAPO: `TAPO-MultiHopQA-v0`; EAPO: the Markovian workspace
`EAPO-MultiHopQA-v0`), and are evaluated greedily on the same held-out questions before and after.
Printed per algorithm: held-out success (before -> after), mean turns, mean tool calls and generated
tokens per episode after training, steps and seconds trained, and the first step whose sampled success
reached `--threshold` ("-" if none did).

    python bench/algorithms.py                                # 4 x 10 min budget on CPU with SmolLM2
    python bench/algorithms.py --budget-minutes 2 --eval-tasks 10 --algos grpo,igpo   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ENVS = {
    "grpo": ("MultiHopQA-v0", {"max_turns": 4}),
    "igpo": ("MultiHopQA-v0", {"max_turns": 4}),
    "tapo": ("TAPO-MultiHopQA-v0", {"max_tool_turns": 3}),
    "eapo": ("EAPO-MultiHopQA-v0", {"max_rounds": 4}),
}


def episode_stats(trainer: Any, task_ids: list[str]) -> dict[str, float]:
    """Greedy episodes on `task_ids`: success, turns, tool calls and generated tokens per episode."""
    groups = asyncio.run(trainer.rollout(task_ids, group_size=1, temperature=0.0))
    trajs = [t for g in groups for t in g]
    n = max(len(trajs), 1)
    return {
        "success": sum(t.success for t in trajs) / n,
        "turns": sum(t.num_turns for t in trajs) / n,
        "tool_calls": sum(t.num_tool_calls for t in trajs) / n,
        "tokens": sum(t.completion_tokens for t in trajs) / n,
    }


def run(algo: str, a: argparse.Namespace) -> dict[str, Any]:
    from agentgym.trainers import TRAINERS

    env_id, extra = ENVS[algo]
    env_kwargs = {"hops": 2, "n_docs": a.n_docs, **extra}
    config = {"seed": a.seed, "steps": 10**6, "tasks_per_step": a.tasks_per_step, "group_size": a.group_size,
              "max_new_tokens": a.max_new_tokens, "max_length": 3072, "learning_rate": a.lr,
              "micro_batch_size": 4, "report_to": []}
    if algo == "tapo":
        config["max_sampling_rounds"] = 2
    train_tasks = [f"train-{i}" for i in range(a.train_tasks)]
    eval_tasks = [f"test-{i}" for i in range(a.eval_tasks)]
    trainer = TRAINERS[algo](a.model, env_id, config, env_kwargs=env_kwargs, train_tasks=train_tasks)
    before = episode_stats(trainer, eval_tasks)
    t0, curve, reached = time.perf_counter(), [], None
    while time.perf_counter() - t0 < a.budget_minutes * 60:
        m = trainer.train_step()
        curve.append({k: m[k] for k in ("step", "reward", "success", "turns", "tool_calls", "step_seconds")})
        if reached is None and m["success"] >= a.threshold:
            reached = m["step"]
        print(f"  {algo} step {m['step']}: reward {m['reward']:.3f} success {m['success']:.2f} "
              f"turns {m['turns']:.2f} ({m['step_seconds']:.0f} s)", flush=True)
    trained = time.perf_counter() - t0
    after = episode_stats(trainer, eval_tasks)
    trainer.close()
    del trainer
    gc.collect()
    return {"algo": algo, "env": env_id, "before": before, "after": after, "steps": len(curve),
            "train_seconds": trained, "steps_to_threshold": reached, "curve": curve}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algos", default="grpo,tapo,igpo,eapo")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--budget-minutes", type=float, default=10.0)
    ap.add_argument("--threshold", type=float, default=0.25, help="sampled success that counts as reached")
    ap.add_argument("--train-tasks", type=int, default=500)
    ap.add_argument("--eval-tasks", type=int, default=30)
    ap.add_argument("--tasks-per-step", type=int, default=2)
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--n-docs", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=2e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write every figure and curve as JSON here")
    a = ap.parse_args()

    results = []
    for algo in a.algos.split(","):
        print(f"== {algo}", flush=True)
        results.append(run(algo.strip(), a))
    print(f"\nheld-out: {a.eval_tasks} 2-hop MultiHopQA questions, greedy; budget {a.budget_minutes:g} min per "
          f"algorithm; threshold: sampled success >= {a.threshold:g}")
    print(f"{'algo':6} {'success before->after':>22} {'turns':>6} {'tool calls':>10} {'tokens/ep':>9} "
          f"{'steps':>5} {'to threshold':>12}")
    for r in results:
        b, f = r["before"], r["after"]
        reached = "-" if r["steps_to_threshold"] is None else str(r["steps_to_threshold"])
        print(f"{r['algo']:6} {b['success']:>10.1%} -> {f['success']:<8.1%} {f['turns']:>6.2f} {f['tool_calls']:>10.2f} "
              f"{f['tokens']:>9.0f} {r['steps']:>5} {reached:>12}")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"args": vars(a), "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
