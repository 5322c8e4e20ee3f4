"""Teach SmolLM2-135M-Instruct (real weights, CPU) to solve GSM8K problems by writing Python in the sandbox.

`MathPython-v0` over GSM8K's train file (`../shared/data/gsm8k/train.jsonl`, or $AGENTGYM_GSM8K): the policy
writes `<python>...</python>` (run in the sandbox, variables kept between calls) and ends with
`<answer>N</answer>`; reward 1 for the right number. The last 500 problems of the file are held out. Steps:

1. greedy held-out success of the untrained model (with the tools);
2. warm start: `MathPythonOracle` turns GSM8K train solutions into python-tool episodes (each annotated step an
   assignment, then `answer`), played through the env; the trainer clones the successful ones through the chat
   template (`warm_start`);
3. GRPO on the env's reward for the rest of the time budget;
4. greedy held-out success again; the model is saved.

    python examples/train_gsm8k_python.py                        # the full run: at most --hours (2) of CPU
    python examples/train_gsm8k_python.py --demos 2 --sft-epochs 1 --train-minutes 0.05 --eval-tasks 2   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ENV = "MathPython-v0"
HELD_OUT = 500


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0, help="wall-time limit of the whole run")
    ap.add_argument("--train-minutes", type=float, default=None,
                    help="GRPO budget (default: what --hours leaves after the warm start and two held-out evals, "
                         "whose time is estimated from the first)")
    ap.add_argument("--demos", type=int, default=400, help="oracle episodes on training problems to clone")
    ap.add_argument("--sft-epochs", type=int, default=3)
    ap.add_argument("--sft-lr", type=float, default=5e-5)
    ap.add_argument("--eval-tasks", type=int, default=HELD_OUT, help="held-out problems evaluated (the last N)")
    ap.add_argument("--tasks-per-step", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--max-turns", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--lr", type=float, default=2e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default="runs/gsm8k_python/model", help="where the trained model is saved")
    ap.add_argument("--out", help="write the figures as JSON here")
    a = ap.parse_args()

    import torch
    from agentgym.trainers import GRPOConfig, GRPOTrainer

    import agentgym
    from agentgym.oracles import oracle_demonstrations

    t_start = time.perf_counter()
    deadline = t_start + a.hours * 3600
    torch.manual_seed(a.seed)
    env_kwargs = {"protocol": "tags", "max_turns": a.max_turns}
    probe = agentgym.make(ENV, **env_kwargs)
    if probe.unwrapped.data_path is None:
        raise SystemExit("GSM8K train file not found: put it at ../shared/data/gsm8k/train.jsonl or set AGENTGYM_GSM8K")
    ids = probe.unwrapped.tasks.ids()
    held_out, train_ids = ids[-HELD_OUT:][-a.eval_tasks:], ids[:-HELD_OUT]
    config = GRPOConfig(steps=100_000, tasks_per_step=a.tasks_per_step, group_size=a.group_size,
                        max_new_tokens=a.max_new_tokens, max_length=4096, learning_rate=a.lr, temperature=0.8,
                        micro_batch_size=4, seed=a.seed, log_every=1)
    trainer = GRPOTrainer("smollm2", ENV, config, env_kwargs=env_kwargs, train_tasks=train_ids)

    def evaluate(label: str) -> dict:
        result = trainer.evaluate(task_ids=held_out)
        print(f"{label}: greedy success {result['success']:.1%} on {result['n']} held-out problems "
              f"({result['seconds']:.0f} s)", flush=True)
        return result

    before = evaluate("before")
    # the warm start: oracle episodes on the first training problems (never the held-out ones)
    t0 = time.perf_counter()
    demos = oracle_demonstrations(probe, train_ids[: a.demos])  # MathPythonOracle
    probe.close()
    warm = trainer.warm_start(demos, epochs=a.sft_epochs, learning_rate=a.sft_lr, on_log=lambda step, total, loss:
                              print(f"warm start SFT step {step}/{total}: loss {loss:.3f}", flush=True))
    print(f"warm start: cloned {warm.get('demos', 0)} of {len(demos)} oracle episodes ({warm.get('demo_tokens', 0)} "
          f"tokens), NLL {warm.get('demo_nll_first', float('nan')):.3f} -> "
          f"{warm.get('demo_nll_last', float('nan')):.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    minutes = a.train_minutes
    if minutes is None:  # leave room for the final evaluation and saving: a cloned model writes more than the
        # untrained one (code, then an answer); its evaluation took 2.5x as long as the first in the 2-hour run
        minutes = max((deadline - time.perf_counter() - 2.7 * before["seconds"] - 60) / 60, 0.0)
    history = []
    t_train = time.perf_counter()
    if minutes > 0:
        history = trainer.train(minutes=minutes)
    train_seconds = time.perf_counter() - t_train
    print(f"GRPO: {len(history)} steps in {train_seconds / 60:.1f} min", flush=True)
    after = evaluate("after")
    trainer.save(a.save)
    trainer.close()
    total = time.perf_counter() - t_start
    print(f"saved to {a.save}; held-out success {before['success']:.1%} -> {after['success']:.1%}; "
          f"total wall time {total / 60:.1f} min")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"args": vars(a), "before": before, "warm_start": warm, "after": after,
                       "train_seconds": train_seconds, "total_seconds": total, "history": history}, f, indent=1,
                      default=float)


if __name__ == "__main__":
    main()
