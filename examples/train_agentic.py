"""Train an agent with TAPO, IGPO or EAPO on the project's own envs, and measure it before and after.

    python examples/train_agentic.py tapo                  # TAPO on MathPython with the python tool
    python examples/train_agentic.py igpo                  # IGPO on 2-hop MultiHopQA (search tool)
    python examples/train_agentic.py eapo                  # EAPO on MultiHopQA in a Markovian workspace
    python examples/train_agentic.py igpo --steps 2 --eval-tasks 10      # a quick smoke run

The default model is SmolLM2-135M-Instruct on CPU (`--model` takes any HF causal LM folder; on a GPU the
trainer moves to it by itself). The same runs come from YAML with `agentgym train
examples/configs/{tapo_mathpython,igpo_multihop,eapo_multihop}.yaml`.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RUNS = {
    "tapo": ("TAPO-MathPython-v0", {"max_tool_turns": 2}),
    "igpo": ("MultiHopQA-v0", {"hops": 2, "n_docs": 2000, "max_turns": 4}),
    "eapo": ("EAPO-MultiHopQA-v0", {"hops": 2, "n_docs": 2000, "max_rounds": 4}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("algo", choices=sorted(RUNS))
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--tasks-per-step", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-6)
    ap.add_argument("--eval-tasks", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write before/after figures and the per-step curve as JSON here")
    a = ap.parse_args()

    from agentgym.trainers import TRAINERS

    env_id, env_kwargs = RUNS[a.algo]
    cls = TRAINERS[a.algo]
    config = {"steps": a.steps, "tasks_per_step": a.tasks_per_step, "group_size": a.group_size,
              "max_new_tokens": a.max_new_tokens, "max_length": 3072, "learning_rate": a.lr, "seed": a.seed,
              "micro_batch_size": 4}
    if a.algo == "tapo":
        config["max_sampling_rounds"] = 2
    t0 = time.perf_counter()
    import agentgym

    tasks = agentgym.make(env_id, **env_kwargs).tasks
    held_out = tasks.ids("test")[: a.eval_tasks]
    train_tasks = None
    if not held_out:  # a single-file dataset (GSM8K train.jsonl): hold out its last problems
        ids = tasks.ids("train")
        held_out, train_tasks = ids[-a.eval_tasks:], ids[: -a.eval_tasks]
    trainer = cls(a.model, env_id, config, env_kwargs=env_kwargs, train_tasks=train_tasks)
    before = trainer.evaluate(held_out)
    print(f"before: success {before['success']:.1%}, reward {before['reward']:.3f} on {before['n']} held-out tasks",
          flush=True)
    history = trainer.train()
    after = trainer.evaluate(held_out)
    print(f"after:  success {after['success']:.1%}, reward {after['reward']:.3f}; "
          f"wall time {(time.perf_counter() - t0) / 60:.1f} min")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"args": vars(a), "before": before, "after": after, "history": history}, f, indent=1,
                      default=float)
    trainer.close()


if __name__ == "__main__":
    main()
