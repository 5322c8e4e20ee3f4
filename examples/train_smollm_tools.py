"""Train SmolLM2-135M-Instruct (real weights, CPU) with GRPO to use the calculator and answer tools.

The task is `Arithmetic-v0` (generated word problems; `calculator` and `answer` tools, called with tags:
`<calculator>23 * 4</calculator>`, `<answer>92</answer>`); the reward is 1 for the exact answer (`--tool-bonus`
adds a reward for having used the calculator: it taught the model to call it for the bonus, not to answer
better). Success is measured on held-out test tasks before and after training with greedy decoding; the
per-step curve is printed and, with `--out`, written as JSON. Measured here: 12% -> 52% on 100 test tasks
after 45 minutes of training on 2 CPU cores (trainers/README.md).

    python examples/train_smollm_tools.py                       # the full run: 45 min of training on 2 cores
    python examples/train_smollm_tools.py --minutes 3 --eval-tasks 20 --tasks-per-step 2   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=45.0, help="training wall-time budget")
    ap.add_argument("--steps", type=int, default=10_000, help="most steps (the time budget usually ends first)")
    ap.add_argument("--tasks-per-step", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--eval-tasks", type=int, default=100)
    ap.add_argument("--difficulty", type=int, default=1)
    ap.add_argument("--protocol", default="tags", help="tool-call protocol: tags (<calculator>..), hermes, native")
    ap.add_argument("--tool-bonus", type=float, default=0.0,
                    help="reward for having used the calculator (success still needs the exact answer)")
    ap.add_argument("--max-turns", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--advantage", default="grpo")
    ap.add_argument("--loss-agg", default="token-mean")
    ap.add_argument("--clip-high", type=float, default=0.28)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the curve and the before/after figures as JSON here")
    ap.add_argument("--save", help="save the trained model here")
    a = ap.parse_args()

    import torch
    from agentgym.trainers import GRPOConfig, GRPOTrainer

    torch.manual_seed(a.seed)
    t_start = time.perf_counter()
    config = GRPOConfig(steps=a.steps, tasks_per_step=a.tasks_per_step, group_size=a.group_size,
                        max_new_tokens=a.max_new_tokens, max_length=2048, learning_rate=a.lr,
                        temperature=a.temperature, advantage=a.advantage, loss_agg=a.loss_agg, clip_high=a.clip_high,
                        micro_batch_size=8, seed=a.seed, log_every=1)
    trainer = GRPOTrainer("smollm2", "Arithmetic-v0", config,
                          env_kwargs={"difficulty": a.difficulty, "protocol": a.protocol, "max_turns": a.max_turns,
                                      "reward_weights": {"used_calculator": a.tool_bonus}})
    before = trainer.evaluate(n=a.eval_tasks)
    print(f"before: success {before['success']:.1%} on {before['n']} held-out tasks ({before['seconds']:.0f} s)",
          flush=True)
    t_train = time.perf_counter()
    history = trainer.train(minutes=a.minutes)
    train_seconds = time.perf_counter() - t_train
    after = trainer.evaluate(n=a.eval_tasks)
    total = time.perf_counter() - t_start
    print(f"after:  success {after['success']:.1%} on {after['n']} held-out tasks ({after['seconds']:.0f} s)")
    print(f"change: {100 * (after['success'] - before['success']):+.1f} points; training {train_seconds / 60:.1f} min, "
          f"total wall time {total / 60:.1f} min")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"args": vars(a), "before": before, "after": after, "train_seconds": train_seconds,
                       "total_seconds": total, "history": history}, f, indent=1, default=float)
    if a.save:
        trainer.save(a.save)


if __name__ == "__main__":
    main()
