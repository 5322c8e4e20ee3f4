"""Train SmolLM2-135M-Instruct (real weights, CPU) as the policy of a thought-graph env: sorting 32 numbers over the
programmatic reasoner, which sorts short lists well and long ones badly, so the policy has to decompose, solve the
parts several times, keep the best, merge and submit.

The reasoner stays fixed inside the env; only the policy learns. The env runs in its compact view (tools by
signature, scores-only graph lines). A warm start clones the Graph of Thoughts schedule's successful episodes on
training tasks (the trainer's `warm_start`, through the chat template), then
GRPO trains on the env's reward (1 for an exactly sorted submission). Held-out success (greedy) is measured
before training, after the warm start and after GRPO.

    python examples/train_thought_graph.py                                   # the full run (figures in the README)
    python examples/train_thought_graph.py --demos 2 --sft-epochs 1 --minutes 0.05 --eval-tasks 2   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ENV = "thought_graph.sorting32-v0"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demos", type=int, default=12, help="GoT-schedule episodes on training tasks to clone")
    ap.add_argument("--sft-epochs", type=int, default=2)
    ap.add_argument("--sft-lr", type=float, default=1e-4)
    ap.add_argument("--minutes", type=float, default=8.0, help="GRPO wall-time budget")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--tasks-per-step", type=int, default=2)
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--eval-tasks", type=int, default=10)
    ap.add_argument("--max-turns", type=int, default=10)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the figures as JSON here")
    a = ap.parse_args()

    import torch
    from agentgym.envs.thought_graph import schedule_agent
    from agentgym.trainers import GRPOConfig, GRPOTrainer

    from agentgym.rollout import collect

    torch.manual_seed(a.seed)
    t_start = time.perf_counter()
    env_kwargs = {"compact": True, "max_turns": a.max_turns}
    config = GRPOConfig(steps=a.steps, tasks_per_step=a.tasks_per_step, group_size=a.group_size,
                        max_new_tokens=a.max_new_tokens, max_length=8192, learning_rate=a.lr, temperature=0.7,
                        micro_batch_size=2, seed=a.seed, log_every=1)
    trainer = GRPOTrainer("smollm2", ENV, config, env_kwargs=env_kwargs)

    def held_out(label: str) -> dict:
        result = trainer.evaluate(n=a.eval_tasks)
        print(f"{label}: success {result['success']:.0%} on {result['n']} held-out tasks ({result['seconds']:.0f} s)",
              flush=True)
        return result

    before = held_out("before")
    demo_ids = trainer.train_tasks[: a.demos]
    # the GoT schedule without its final refinement (8 turns), in the compact view the policy sees
    demos = collect(ENV, schedule_agent("got", size=32, refine_rounds=0), demo_ids, progress=False,
                    env_kwargs={"compact": True})
    warm = trainer.warm_start(demos, epochs=a.sft_epochs, learning_rate=a.sft_lr)
    print(f"warm start: cloned {warm.get('demos', 0)} of {len(demos)} schedule episodes "
          f"({warm.get('demo_tokens', 0)} tokens), NLL {warm.get('demo_nll_first', float('nan')):.3f} -> "
          f"{warm.get('demo_nll_last', float('nan')):.3f}", flush=True)
    warmed = held_out("after warm start")
    t_train = time.perf_counter()
    history = trainer.train(minutes=a.minutes)
    train_seconds = time.perf_counter() - t_train
    after = held_out("after GRPO")
    total = time.perf_counter() - t_start
    print(f"GRPO: {len(history)} steps in {train_seconds / 60:.1f} min; total wall time {total / 60:.1f} min")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"args": vars(a), "before": before, "warm_start": warm, "after_warm_start": warmed,
                       "after": after, "train_seconds": train_seconds, "total_seconds": total, "history": history},
                      f, indent=1, default=float)


if __name__ == "__main__":
    main()
