"""The training methods side by side from one warm-started SmolLM2: same checkpoint, tasks, seeds and wall clock.

1. Warm start (cached in `--workdir`): SmolLM2-135M-Instruct is behaviour-cloned on oracle episodes of every
   env the comparison uses (the hop-by-hop search oracle on 2-hop MultiHopQA in its tag, TAPO and Markovian
   workspace protocols; `MathPythonOracle` on GSM8K in the tag and TAPO protocols), so that it starts where
   outcome-based RL has signal. The checkpoint is saved once and every run starts from it.
2. Held-out success of the checkpoint, greedy, per env ("before": every method on that env shares it).
3. Every method x seed trains for `--budget-minutes` of wall clock in its own process (`--parallel` at a
   time, `--threads` torch threads each), then is evaluated greedily on the same held-out questions.
   A finished run's JSON is kept under `--workdir/runs`, so an interrupted comparison resumes where it stopped.

Printed per method: held-out success before -> after (mean and min..max over seeds), the first step whose
sampled success reached `--threshold` (mean over seeds that reached it, and how many did), turns, tool calls
(the answer tool apart), generated tokens per episode after training, steps made, and generated tokens per
second of training (rollout and update together).

    python bench/algorithms.py            # warm start (~45 min, once), then 10 methods x 3 seeds, 2 min each (~55 min)
    python bench/algorithms.py --methods grpo,igpo --seeds 0 --budget-minutes 1 --eval-tasks 10   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MULTIHOP = {"hops": 2, "n_docs": 2000}
# method -> (trainer, env id, env kwargs, config overrides)
METHODS: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "grpo": ("grpo", "MultiHopQA-v0", {**MULTIHOP, "max_turns": 4}, {}),
    "dapo": ("dapo", "MultiHopQA-v0", {**MULTIHOP, "max_turns": 4}, {"max_sampling_rounds": 2}),
    "tapo": ("tapo", "TAPO-MultiHopQA-v0", {**MULTIHOP, "max_tool_turns": 3}, {"max_sampling_rounds": 2}),
    "igpo": ("igpo", "MultiHopQA-v0", {**MULTIHOP, "max_turns": 4}, {}),
    "eapo": ("eapo", "EAPO-MultiHopQA-v0", {**MULTIHOP, "max_rounds": 4}, {}),
    "rexrag": ("rexrag", "MultiHopQA-v0", {**MULTIHOP, "max_turns": 4}, {}),
    "treepo": ("treepo", "MultiHopQA-v0", {**MULTIHOP, "max_turns": 4}, {"segment_tokens": 16, "branching": 2}),
    "expert_iteration": ("expert_iteration", "MultiHopQA-v0", {**MULTIHOP, "max_turns": 4}, {}),
    "grpo_math": ("grpo", "MathPython-v0", {"protocol": "tags", "max_turns": 3}, {"max_new_tokens": 160}),
    "tapo_math": ("tapo", "TAPO-MathPython-v0", {"max_tool_turns": 2}, {"max_new_tokens": 160,
                                                                        "max_sampling_rounds": 2}),
}
# the warm start's demonstrations (`agentgym.oracles`): env id, env kwargs, kind (math envs get half as many)
DEMO_ENVS = [("MultiHopQA-v0", {**MULTIHOP, "max_turns": 4}, "search"),
             ("TAPO-MultiHopQA-v0", {**MULTIHOP, "max_tool_turns": 3}, "search"),
             ("EAPO-MultiHopQA-v0", {**MULTIHOP, "max_rounds": 4}, "search"),
             ("MathPython-v0", {"protocol": "tags", "max_turns": 3}, "math"),
             ("TAPO-MathPython-v0", {"max_tool_turns": 2}, "math")]
MATH_HELD_OUT = 500  # GSM8K: the last 500 problems of the train file are never trained on


def env_key(env_id: str, env_kwargs: dict[str, Any]) -> str:
    return env_id + "".join(f",{k}={v}" for k, v in sorted(env_kwargs.items()))


def task_split(env_id: str, env_kwargs: dict[str, Any], n_train: int, n_eval: int) -> tuple[list[str], list[str]]:
    """Training and held-out task ids: MultiHopQA's own train/test ids; GSM8K's last 500 held out."""
    if "MathPython" in env_id:  # the env's default data: the GSM8K train file, read without building an env
        from agentgym.envs.code.math_python import default_data_path, gsm8k_tasks

        path = env_kwargs.get("data_path") or default_data_path()
        if path is None:
            raise SystemExit("GSM8K train file not found: put it at ../shared/data/gsm8k/train.jsonl or set "
                             "AGENTGYM_GSM8K")
        ids = gsm8k_tasks(path).ids()
        return ids[:-MATH_HELD_OUT][:n_train], ids[-MATH_HELD_OUT:][:n_eval]
    return [f"train-{i}" for i in range(n_train)], [f"test-{i}" for i in range(n_eval)]


def episode_stats(trajs: list[Any]) -> dict[str, float]:
    """Success, turns, tool calls (the answer tool apart) and generated tokens per episode (`summarize`'s)."""
    from agentgym.eval.metrics import summarize

    s = summarize(trajs)
    answers = sum(name == "answer" for t in trajs if t.finished for turn in t.turns for name in turn.tool_calls)
    answer_calls = answers / max(s.episodes - s.errors, 1)
    return {"success": s.success_rate, "turns": s.mean_turns, "tool_calls": s.mean_tool_calls - answer_calls,
            "answer_calls": answer_calls, "tokens": s.mean_completion_tokens, "n": s.episodes}


def held_out(trainer: Any, task_ids: list[str]) -> dict[str, float]:
    groups = asyncio.run(trainer.rollout(task_ids, group_size=1, temperature=0.0))
    return episode_stats([t for g in groups for t in g])


def build(method: str, model: str, a: argparse.Namespace, seed: int) -> tuple[Any, list[str]]:
    from agentgym.trainers import TRAINERS

    trainer_name, env_id, env_kwargs, overrides = METHODS[method]
    train_ids, eval_ids = task_split(env_id, env_kwargs, a.train_tasks, a.eval_tasks)
    config = {"seed": seed, "steps": 10**6, "tasks_per_step": a.tasks_per_step, "group_size": a.group_size,
              "max_new_tokens": a.max_new_tokens, "max_length": 3072, "learning_rate": a.lr, "temperature": 1.0,
              "micro_batch_size": 4, "report_to": [], **overrides}
    if trainer_name == "expert_iteration":
        config["learning_rate"] = a.ei_lr
    trainer = TRAINERS[trainer_name](model, env_id, config, env_kwargs=env_kwargs, train_tasks=train_ids)
    return trainer, eval_ids


def run_one(method: str, seed: int, a: argparse.Namespace, out: Path) -> None:
    """One method x seed in this process: train for the budget from the warm checkpoint, evaluate, write JSON."""
    import torch

    torch.set_num_threads(a.threads)
    trainer, eval_ids = build(method, str(Path(a.workdir) / "warm"), a, seed)
    curve: list[dict[str, float]] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < a.budget_minutes * 60:
        m = trainer.train_step()
        generated = m.get("tree_generated_tokens", m["response_length"] * m["episodes"])
        curve.append({"step": m["step"], "reward": m["reward"], "success": m["success"], "turns": m["turns"],
                      "tool_calls": m["tool_calls"], "generated_tokens": generated, "seconds": m["step_seconds"]})
        print(f"  {method} seed {seed} step {m['step']}: success {m['success']:.2f} turns {m['turns']:.2f} "
              f"({m['step_seconds']:.0f} s)", flush=True)
    trained = time.perf_counter() - t0
    after = held_out(trainer, eval_ids)
    trainer.close()
    tokens = sum(c["generated_tokens"] for c in curve)
    result = {"method": method, "seed": seed, "after": after, "steps": len(curve), "train_seconds": trained,
              "tokens_per_second": tokens / max(trained, 1e-9), "curve": curve}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out)


def warm_start(a: argparse.Namespace) -> dict[str, Any]:
    """Behaviour-clone SmolLM2 on oracle episodes of every demo env; save the checkpoint (once)."""
    import torch
    from agentgym.trainers import GRPOTrainer

    import agentgym
    from agentgym.oracles import oracle_demonstrations

    warm_dir = Path(a.workdir) / "warm"
    info_path = Path(a.workdir) / "warm.json"
    if (warm_dir / "config.json").exists() and info_path.exists():
        return json.loads(info_path.read_text())
    torch.manual_seed(0)
    torch.set_num_threads(a.threads * a.parallel)
    t0 = time.perf_counter()
    demos = []
    for env_id, env_kwargs, kind in DEMO_ENVS:
        env = agentgym.make(env_id, **env_kwargs)
        train_ids, _ = task_split(env_id, env_kwargs, 10**6, 0)
        n = a.warm_demos if kind == "search" else a.warm_demos // 2
        # demonstrations come from the far end of the training ids, so RL's first tasks were never cloned
        got = oracle_demonstrations(env, train_ids[-n:])
        env.close()
        print(f"warm start: {sum(t.success for t in got)}/{len(got)} oracle episodes solved on {env_id}", flush=True)
        demos += got
    trainer = GRPOTrainer(a.model, "MultiHopQA-v0", {"report_to": [], "max_length": 3072, "micro_batch_size": 4},
                          env_kwargs={**MULTIHOP, "max_turns": 4})
    stats = trainer.warm_start(demos, epochs=a.warm_epochs, learning_rate=a.warm_lr, on_log=lambda step, total, loss:
                               print(f"warm start SFT step {step}/{total}: loss {loss:.3f}", flush=True))
    trainer.save(warm_dir)
    trainer.close()
    info = {"demos": len(demos), "seconds": time.perf_counter() - t0, **{k: float(v) for k, v in stats.items()}}
    info_path.write_text(json.dumps(info, indent=1))
    print(f"warm start: cloned {info.get('demos')} episodes, NLL {info.get('demo_nll_first', 0):.3f} -> "
          f"{info.get('demo_nll_last', 0):.3f} in {info['seconds']:.0f} s", flush=True)
    return info


def before(methods: list[str], a: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Greedy held-out figures of the warm checkpoint per env (cached)."""
    import torch

    path = Path(a.workdir) / f"before-{a.eval_tasks}.json"
    cache = json.loads(path.read_text()) if path.exists() else {}
    torch.set_num_threads(a.threads * a.parallel)
    for method in methods:
        _, env_id, env_kwargs, _ = METHODS[method]
        key = env_key(env_id, env_kwargs)
        if key in cache:
            continue
        trainer, eval_ids = build(method, str(Path(a.workdir) / "warm"), a, 0)
        cache[key] = held_out(trainer, eval_ids)
        trainer.close()
        print(f"before ({env_id}): success {cache[key]['success']:.1%}", flush=True)
        path.write_text(json.dumps(cache, indent=1))
    return cache


def spread(values: list[float], pct: bool = True) -> str:
    fmt = (lambda v: f"{v:.0%}") if pct else (lambda v: f"{v:.2f}")
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.mean(values))} ({fmt(min(values))}..{fmt(max(values))})"


def report(methods: list[str], seeds: list[int], a: argparse.Namespace, base: dict[str, dict[str, float]]) -> None:
    runs = Path(a.workdir) / "runs"
    print(f"\nheld-out: {a.eval_tasks} tasks per env, greedy; {a.budget_minutes:g} min of training per run, "
          f"{a.threads} torch thread(s) each, {a.parallel} runs at a time; seeds {seeds}; "
          f"threshold: sampled success >= {a.threshold:g}")
    print("| method | env | success before -> after | steps to threshold | turns | tool calls | answer calls | "
          "tokens / episode | steps | generated tokens / s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for method in methods:
        rs = [json.loads(p.read_text()) for s in seeds if (p := runs / f"{method}-seed{s}.json").exists()]
        if not rs:
            continue
        _, env_id, env_kwargs, _ = METHODS[method]
        b = base[env_key(env_id, env_kwargs)]
        after = [r["after"] for r in rs]
        # from the saved curves, so any threshold can be asked of finished runs
        hit = [next(c["step"] for c in r["curve"] if c["success"] >= a.threshold) for r in rs
               if any(c["success"] >= a.threshold for c in r["curve"])]
        to_thr = f"{statistics.mean(hit):.1f} ({len(hit)}/{len(rs)})" if hit else f"- (0/{len(rs)})"
        print(f"| {method} | {env_id} | {b['success']:.0%} -> {spread([x['success'] for x in after])} | {to_thr} | "
              f"{statistics.mean(x['turns'] for x in after):.2f} | {statistics.mean(x['tool_calls'] for x in after):.2f} | "
              f"{statistics.mean(x['answer_calls'] for x in after):.2f} | {statistics.mean(x['tokens'] for x in after):.0f} | "
              f"{statistics.mean(r['steps'] for r in rs):.1f} | {statistics.mean(r['tokens_per_second'] for r in rs):.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of: {', '.join(METHODS)}")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--model", default="smollm2", help="the model the warm start begins from")
    ap.add_argument("--workdir", default="runs/bench_algorithms", help="warm checkpoint, cached figures, run JSONs")
    ap.add_argument("--budget-minutes", type=float, default=2.0, help="training wall clock per method x seed")
    ap.add_argument("--parallel", type=int, default=2, help="runs at a time")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--threshold", type=float, default=0.75, help="sampled success that counts as reached")
    ap.add_argument("--train-tasks", type=int, default=500)
    ap.add_argument("--eval-tasks", type=int, default=20)
    ap.add_argument("--tasks-per-step", type=int, default=2)
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--lr", type=float, default=2e-6)
    ap.add_argument("--ei-lr", type=float, default=1e-5, help="expert iteration's SFT learning rate")
    ap.add_argument("--warm-demos", type=int, default=40, help="oracle episodes per search env (half per math env)")
    ap.add_argument("--warm-epochs", type=int, default=2)
    ap.add_argument("--warm-lr", type=float, default=5e-5)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # METHOD:SEED:OUT, a child run
    a = ap.parse_args()

    if a.one:
        method, seed, out = a.one.split(":", 2)
        run_one(method, int(seed), a, Path(out))
        return
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    seeds = [int(s) for s in a.seeds.split(",")]
    runs = Path(a.workdir) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    warm_start(a)
    base = before(methods, a)
    todo = [(m, s) for s in seeds for m in methods if not (runs / f"{m}-seed{s}.json").exists()]
    print(f"{len(methods) * len(seeds) - len(todo)} runs done already, {len(todo)} to go", flush=True)
    passthrough = [arg for arg in sys.argv[1:] if not arg.startswith("--one")]

    def child(job: tuple[str, int]) -> None:
        method, seed = job
        log = runs / f"{method}-seed{seed}.log"
        with log.open("w") as fh:
            rc = subprocess.call([sys.executable, __file__, *passthrough, "--one",
                                  f"{method}:{seed}:{runs / f'{method}-seed{seed}.json'}"], stdout=fh, stderr=fh)
        print(f"{method} seed {seed}: {'done' if rc == 0 else f'FAILED (exit {rc}, see {log})'}", flush=True)

    with ThreadPoolExecutor(a.parallel) as pool:
        list(pool.map(child, todo))
    report(methods, seeds, a, base)


if __name__ == "__main__":
    main()
