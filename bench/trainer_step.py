"""Seconds per GRPO step (generation + optimization) and peak memory: our GRPOTrainer next to TRL's.

Same batch for both: SmolLM2-135M-Instruct (real weights, fp32, CPU), one prompt per step with 8 sampled
completions of at most 64 new tokens at temperature 1, the same reward function, AdamW (lr 1e-6, no weight
decay, grad-norm clip 1.0), no KL term. Each implementation runs in its own subprocess (so its peak RSS is
its own), one after the other in this invocation; the first `--warmup` steps are not timed. Generation
time for TRL is the time spent in `GRPOTrainer._generate`; the rest of its step is counted as
optimization (scoring, loss, backward, optimizer step).

    python bench/trainer_step.py [--steps 5] [--warmup 1] [--only ours|trl]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = [f"What is {a} + {b}? Reply with the number only." for a, b in
           [(12, 7), (35, 48), (103, 29), (64, 64), (18, 91), (250, 125), (77, 6), (41, 59), (9, 990), (123, 321)]]
ANSWERS = [str(eval(p.split("is ")[1].split("?")[0])) for p in PROMPTS]
GROUP, MAX_NEW, LR = 8, 64, 1e-6
MICRO = int(os.environ.get("BENCH_MICRO", 4))  # our rows per forward pass (the gradient is the same)


def reward_text(text: str, answer: str) -> float:
    nums = re.findall(r"-?\d+", text)
    return float(bool(nums) and nums[0] == answer)


class PromptEnv:
    """Single-turn env over PROMPTS: the reply is scored with `reward_text` and the episode ends."""

    class _Tasks:
        def ids(self, split: str | None = None) -> list[str]:
            return [str(i) for i in range(len(PROMPTS))]

    def __init__(self) -> None:
        self.tasks = self._Tasks()
        self.i = 0

    async def areset(self, *, seed=None, options=None):
        self.i = int(options["task_id"])
        return [{"role": "user", "content": PROMPTS[self.i]}], {"stop": []}

    async def astep(self, action):
        text = action.get("content") or "" if isinstance(action, dict) else action  # an assistant message or text
        r = reward_text(text, ANSWERS[self.i])
        return [], r, True, False, {"success": r == 1.0}

    async def aclose(self) -> None:
        return None


def run_ours(steps: int, warmup: int) -> dict:
    import torch
    from agentgym.trainers import GRPOConfig, GRPOTrainer

    from agentgym.models import load_model

    torch.manual_seed(0)
    model, tok = load_model("smollm2")
    cfg = GRPOConfig(steps=steps + warmup, tasks_per_step=1, group_size=GROUP, max_new_tokens=MAX_NEW,
                     max_length=1024, learning_rate=LR, micro_batch_size=MICRO, log_every=0, seed=0,
                     skip_zero_advantages=False)  # do the same compute as TRL even for all-equal groups
    trainer = GRPOTrainer(model, PromptEnv, cfg, tokenizer=tok, train_tasks=[str(i) for i in range(len(PROMPTS))])
    trainer.sampler.order = [str(i) for i in reversed(range(len(PROMPTS)))]  # same prompt order as TRL's loop
    rows = []
    for _ in range(steps + warmup):
        m = trainer.train_step()
        rows.append({"gen": m["rollout_seconds"], "opt": m["train_seconds"] + m["sync_seconds"], "tokens": m["policy_tokens"]})
    return {"rows": rows[warmup:]}


def run_trl(steps: int, warmup: int) -> dict:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from agentgym.models import load_model

    torch.manual_seed(0)
    model, tok = load_model("smollm2")
    data = Dataset.from_dict({"prompt": [[{"role": "user", "content": p}] for p in PROMPTS], "answer": ANSWERS})

    def reward(completions, answer, **_):
        return [reward_text(c[0]["content"] if isinstance(c, list) else c, a) for c, a in zip(completions, answer, strict=True)]

    out = tempfile.mkdtemp(prefix="trl-bench-")
    args = GRPOConfig(output_dir=out, per_device_train_batch_size=GROUP, num_generations=GROUP,
                      max_completion_length=MAX_NEW, learning_rate=LR, weight_decay=0.0, max_grad_norm=1.0,
                      beta=0.0, temperature=1.0, max_steps=steps + warmup, logging_steps=1, report_to="none",
                      use_cpu=True, bf16=False, fp16=False, save_strategy="no", disable_tqdm=True, seed=0,
                      shuffle_dataset=False, optim="adamw_torch", lr_scheduler_type="constant")
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=data, processing_class=tok)
    gen_time = [0.0]
    original = trainer._generate

    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            gen_time[0] += time.perf_counter() - t

    trainer._generate = timed
    rows: list[dict] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            gen_time[0] = 0.0
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            total = time.perf_counter() - self.t
            rows.append({"gen": gen_time[0], "opt": total - gen_time[0]})

    trainer.add_callback(Timer())
    trainer.train()
    return {"rows": rows[warmup:]}


def child(impl: str, steps: int, warmup: int) -> None:
    res = run_ours(steps, warmup) if impl == "ours" else run_trl(steps, warmup)
    res["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print("RESULT " + json.dumps(res), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--only", choices=["ours", "trl"])
    ap.add_argument("--child", choices=["ours", "trl"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.steps, a.warmup)
        return
    results = {}
    for impl in ([a.only] if a.only else ["ours", "trl"]):
        proc = subprocess.run([sys.executable, __file__, "--child", impl, "--steps", str(a.steps), "--warmup",
                               str(a.warmup)], capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{impl} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        results[impl] = json.loads(line[len("RESULT "):])
    print(f"SmolLM2-135M fp32, CPU ({os.cpu_count()} cores), {GROUP} completions x {MAX_NEW} new tokens, "
          f"{a.steps} timed steps after {a.warmup} warm-up")
    print(f"{'':6} {'step s':>8} {'gen s':>8} {'opt s':>8} {'peak GB':>8}")
    summary = {}
    for impl, res in results.items():
        gen = statistics.mean(r["gen"] for r in res["rows"])
        opt = statistics.mean(r["opt"] for r in res["rows"])
        summary[impl] = (gen + opt, gen, opt, res["peak_rss_gb"])
        print(f"{impl:6} {gen + opt:8.2f} {gen:8.2f} {opt:8.2f} {res['peak_rss_gb']:8.2f}")
    if len(summary) == 2:
        o, t = summary["ours"], summary["trl"]
        print(f"ratio ours/TRL: step {o[0] / t[0]:.2f}x, generation {o[1] / t[1]:.2f}x, "
              f"optimization {o[2] / t[2]:.2f}x, peak memory {o[3] / t[3]:.2f}x")


if __name__ == "__main__":
    main()
