"""GPU check: the trainer's bf16 step on real architectures with random weights, timed in its two halves.

Three published architectures are built from their transformers config classes with random weights (no
download): SmolLM2-135M, Qwen2.5-0.5B and Qwen2.5-1.5B. Each trains as `GRPOConfig(bf16=True)` trains: fp32
weights under bf16 autocast on CUDA. One GRPO step of `--rows` single-turn episodes (groups of 8 sharing a
prompt of `--prompt-len` tokens, `--response-len` generated tokens each) is timed in its two halves, with the
project's own code:

- optimization: `GRPOTrainer.optimize` (log-probs by `score_tokens`, the PPO-clip loss, backward over
  `micro_batch_size`-row micro-batches, gradient clipping, fused AdamW), then `sync_weights` and the LR
  schedule step, on a synthetic token batch of random ids: random 0/1 rewards, GRPO advantages, old log-probs
  scored by the policy first (the update is on-policy, as after a real rollout);
- generation: the trainer's own `HFEngine.generate_batch` on random prompts of the same shape, sampling at
  temperature 1 with `ignore_eos` (every row generates `--response-len` tokens).

Reported per model and stage: seconds, tokens/s, peak memory (`torch.cuda.max_memory_allocated`, reset
before the stage; peak RSS of the process on CPU), and the optimization's MFU against the GPU's dense bf16
peak. Model FLOPs of an update: 6 N_body T + 6 N_head T_policy + 6 L d_attn sum(S^2): the transformer body
(all parameters but the embedding) runs on all T tokens, the LM head only on the T_policy positions that
predict a policy token (that is all `score_tokens` computes), and causal attention over rows of S tokens.
`mfu_6nt` (6 N T over all parameters and tokens, the common shortcut) is in the JSON too; it reads higher.

    python bench/gpu_check.py [--out build/gpu_check.json]               # on a GPU (scripts/gpu_check.sh)
    python bench/gpu_check.py --device cpu --tiny --out /tmp/check.json  # a smoke run anywhere
    python bench/gpu_check.py --summary build/gpu_check.json [--stage NAME=RESULT ...]  # print the table
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The published configs (config.json on the Hugging Face Hub) of the three models, shape fields only: RoPE
# base, norm epsilon and the like change no FLOP and are left at the config class's defaults.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "SmolLM2-135M": ("LlamaConfig", dict(
        hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, tie_word_embeddings=True)),
    "Qwen2.5-0.5B": ("Qwen2Config", dict(
        hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True)),
    "Qwen2.5-1.5B": ("Qwen2Config", dict(
        hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
        num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True)),
}
# --tiny: the same config classes, a few layers wide (a CPU smoke run of every code path)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=512, max_position_embeddings=512)

# Dense (no sparsity) bf16 tensor-core peaks in TFLOPS from NVIDIA's data sheets; the first name that occurs in
# torch.cuda.get_device_name() wins, so longer names come before the names they contain.
PEAK_BF16_TFLOPS: list[tuple[str, float]] = [
    ("H200 NVL", 835.0), ("GH200", 989.0), ("H200", 989.0), ("H100 NVL", 835.0), ("H100 PCIe", 756.0),
    ("H100", 989.0), ("H800", 989.0), ("A100", 312.0), ("A800", 312.0), ("L40S", 362.0), ("L4", 121.0),
    ("B200", 2250.0),
]
GROUP = 8  # episodes per task: groups of rows share a prompt and their GRPO advantages
PAD, EOS, UNK = 0, 1, 2


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU by its `torch.cuda.get_device_name()`, or None when not in the table."""
    for key, tflops in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return tflops
    return None


def make_tokenizer(vocab_size: int) -> Any:
    """An in-memory word-level tokenizer over the model's whole vocabulary ("t<id>" words; 0 pad, 1 eos):
    the engine and trainer need a tokenizer object, and no real one may be downloaded."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": PAD, "<eos>": EOS, "<unk>": UNK, **{f"t{i}": i for i in range(3, vocab_size)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def build_model(config_class: str, shape: dict[str, Any], device: str) -> Any:
    """A causal LM of that architecture with random weights (fp32), created directly on `device`."""
    import torch
    import transformers

    cfg = getattr(transformers, config_class)(**shape, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=None)
    with torch.device(device):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    model = model.to(device)
    model.generation_config.eos_token_id = EOS
    model.generation_config.pad_token_id = PAD
    return model


class _Tasks:
    def ids(self, split: str | None = None) -> list[str]:
        return ["0"]


class NullEnv:
    """The env a trainer is constructed with; never stepped (the batch is synthetic)."""

    def __init__(self) -> None:
        self.tasks = _Tasks()

    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        return [{"role": "user", "content": "t3"}], {"stop": []}

    async def astep(self, action: Any) -> Any:
        return [], 0.0, True, False, {"success": False}

    async def aclose(self) -> None:
        return None


def synthetic_batch(rows: int, prompt_len: int, response_len: int, vocab_size: int, seed: int) -> Any:
    """A `TokenBatch` of `rows` full-length rows of random ids: a prompt shared by each group of `GROUP` rows
    (as in a GRPO step), then `response_len` policy tokens with a random 0/1 reward on the last one."""
    import torch
    from agentgym.trainers.data import TokenBatch

    g = torch.Generator().manual_seed(seed)
    n_groups = -(-rows // GROUP)
    prompts = torch.randint(3, vocab_size, (n_groups, prompt_len), generator=g).repeat_interleave(GROUP, 0)[:rows]
    responses = torch.randint(3, vocab_size, (rows, response_len), generator=g)
    width = prompt_len + response_len
    loss_mask = torch.zeros((rows, width), dtype=torch.long)
    loss_mask[:, prompt_len:] = 1
    turn_index = torch.full((rows, width), -1, dtype=torch.long)
    turn_index[:, prompt_len:] = 0
    rewards = torch.randint(0, 2, (rows,), generator=g).float()
    token_rewards = torch.zeros((rows, width))
    token_rewards[:, -1] = rewards
    return TokenBatch(
        input_ids=torch.cat([prompts, responses], dim=1), attention_mask=torch.ones((rows, width), dtype=torch.long),
        loss_mask=loss_mask, old_logprobs=torch.zeros((rows, width)), turn_index=turn_index,
        token_rewards=token_rewards, turn_rewards=rewards[:, None].clone(),
        turn_mask=torch.ones((rows, 1), dtype=torch.long), group_index=torch.arange(rows) // GROUP,
        truncated=torch.zeros(rows, dtype=torch.bool), episode_index=torch.arange(rows),
    )


def param_counts(model: Any) -> dict[str, int]:
    """Total parameters (a tied embedding counted once), the embedding's and the LM head's."""
    total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    body = total - emb.numel() - (0 if head is emb else head.numel())
    return {"total": total, "body": body, "head": head.numel(), "tied": int(head is emb)}


def update_flops(model: Any, counts: dict[str, int], rows: int, prompt_len: int, response_len: int) -> float:
    """Model FLOPs of one update (forward + backward) of the batch: 6 N_body T + 6 N_head T_policy +
    6 L d_attn sum(S^2) (see the module docstring)."""
    cfg = model.config
    seq = prompt_len + response_len
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    d_attn = cfg.num_attention_heads * head_dim
    return (6.0 * counts["body"] * rows * seq + 6.0 * counts["head"] * rows * response_len
            + 6.0 * cfg.num_hidden_layers * d_attn * rows * seq**2)


class Memory:
    """Peak memory of a stage: CUDA's max allocated (reset at the start), or the process's peak RSS on CPU."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.cuda = device.startswith("cuda")

    def start(self) -> float:
        """Resets the peak; returns the memory held now (GB)."""
        if not self.cuda:
            return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9
        self.torch.cuda.synchronize()
        self.torch.cuda.reset_peak_memory_stats()
        return self.torch.cuda.memory_allocated() / 1e9

    def peak(self) -> float:
        if self.cuda:
            self.torch.cuda.synchronize()
            return self.torch.cuda.max_memory_allocated() / 1e9
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()


def run_optimization(trainer: Any, mem: Memory, a: argparse.Namespace, vocab: int, counts: dict[str, int],
                     peak: float | None) -> dict[str, Any]:
    """Warm-up then timed `optimize` + `sync_weights` + schedule steps on one synthetic batch."""
    batch = synthetic_batch(a.rows, a.prompt_len, a.response_len, vocab, seed=0)
    batch.old_logprobs = trainer.score_rows(batch, lambda micro: trainer.forward(micro).logprobs)
    batch.advantages, batch.returns = trainer.compute_advantages(batch)
    resident = mem.start()
    times: list[float] = []
    metrics: dict[str, float] = {}
    for i in range(a.warmup + a.steps):
        mem.sync()
        t0 = time.perf_counter()
        metrics = trainer.optimize(batch)
        trainer.sync_weights()
        trainer.scheduler_step()
        mem.sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    seconds = sum(times) / len(times)
    tokens = a.rows * (a.prompt_len + a.response_len)
    flops = update_flops(trainer.model, counts, a.rows, a.prompt_len, a.response_len)
    out: dict[str, Any] = {
        "seconds_per_step": seconds, "tokens": tokens, "policy_tokens": a.rows * a.response_len,
        "tokens_per_s": tokens / seconds, "policy_tokens_per_s": a.rows * a.response_len / seconds,
        "model_tflops_per_s": flops / seconds / 1e12, "mfu": None, "mfu_6nt": None,
        "resident_gb": resident, "peak_memory_gb": mem.peak(), "updates": metrics.get("updates"),
        "grad_norm": metrics.get("grad_norm"), "loss": metrics.get("loss"), "timed_steps": len(times),
    }
    if peak:
        out["mfu"] = flops / seconds / (peak * 1e12)
        out["mfu_6nt"] = 6.0 * counts["total"] * tokens / seconds / (peak * 1e12)
    return out


def run_generation(trainer: Any, mem: Memory, a: argparse.Namespace, vocab: int) -> dict[str, Any]:
    """Warm-up then one timed `HFEngine.generate_batch` of `rows` prompts x `response_len` new tokens."""
    import torch

    from agentgym.models.generation import SamplingParams

    g = torch.Generator().manual_seed(1)
    n_groups = -(-a.rows // GROUP)
    distinct = torch.randint(3, vocab, (n_groups, a.prompt_len), generator=g).tolist()
    prompts = [distinct[i // GROUP] for i in range(a.rows)]
    engine = trainer.engine
    engine.generate_batch(prompts, SamplingParams(max_new_tokens=4, temperature=1.0, ignore_eos=True))
    resident = mem.start()
    t0 = time.perf_counter()
    gens = engine.generate_batch(prompts, SamplingParams(max_new_tokens=a.response_len, temperature=1.0,
                                                         ignore_eos=True))
    mem.sync()
    seconds = time.perf_counter() - t0
    tokens = sum(len(x.token_ids) for x in gens)
    return {"seconds": seconds, "batch": a.rows, "prompt_len": a.prompt_len, "new_tokens": a.response_len,
            "tokens": tokens, "tokens_per_s": tokens / seconds, "resident_gb": resident,
            "peak_memory_gb": mem.peak(), "engine": type(engine).__name__}


def check_model(name: str, config_class: str, shape: dict[str, Any], a: argparse.Namespace,
                peak: float | None, record: dict[str, Any], save: Any) -> None:
    """Build one model and its trainer, run both stages, and fill `record` (saving after each stage)."""
    import torch
    from agentgym.trainers import GRPOConfig, GRPOTrainer

    t0 = time.perf_counter()
    torch.manual_seed(0)
    tok = make_tokenizer(shape["vocab_size"])
    model = build_model(config_class, shape, a.device)
    counts = param_counts(model)
    cfg = GRPOConfig(steps=1000, tasks_per_step=max(a.rows // GROUP, 1), group_size=min(GROUP, a.rows),
                     max_new_tokens=a.response_len, max_length=a.prompt_len + a.response_len,
                     micro_batch_size=a.micro, rollout_batch_size=a.rows, bf16=a.device.startswith("cuda"),
                     kl_coef=0.0, skip_zero_advantages=False, learning_rate=1e-6, log_every=0, report_to=[],
                     seed=0, device=a.device)
    trainer = GRPOTrainer(model, NullEnv, cfg, tokenizer=tok, train_tasks=["0"])
    record.update({"config_class": config_class, "config": shape, "params": counts["total"],
                   "params_body": counts["body"], "params_head": counts["head"], "tied": bool(counts["tied"]),
                   "build_seconds": time.perf_counter() - t0})
    mem = Memory(a.device)
    vocab = shape["vocab_size"]
    try:
        for stage in ("optimization", "generation"):
            try:
                record[stage] = (run_optimization(trainer, mem, a, vocab, counts, peak) if stage == "optimization"
                                 else run_generation(trainer, mem, a, vocab))
            except Exception as e:  # an OOM or a failure in one stage: report it and go on
                record[stage] = {"error": f"{type(e).__name__}: {str(e)[:500]}"}
            trainer.zero_grad()
            save()
        opt, gen = record.get("optimization", {}), record.get("generation", {})
        if "seconds_per_step" in opt and "seconds" in gen:
            record["step_seconds"] = opt["seconds_per_step"] + gen["seconds"]
    finally:
        trainer.close()
        trainer = model = None  # free the weights, gradients and optimizer state before the next model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def device_info(device: str) -> dict[str, Any]:
    import torch
    import transformers

    info: dict[str, Any] = {"device": device, "torch": torch.__version__, "transformers": transformers.__version__,
                            "python": sys.version.split()[0], "cuda": torch.version.cuda}
    if device.startswith("cuda"):
        info["name"] = torch.cuda.get_device_name(device)
        info["memory_gb"] = torch.cuda.get_device_properties(device).total_memory / 1e9
        info["peak_bf16_tflops"] = peak_tflops(info["name"])
        if info["peak_bf16_tflops"] is None:
            info["note"] = "GPU not in the peak table (PEAK_BF16_TFLOPS); MFU omitted (or pass --peak-tflops)"
    else:
        info["name"] = f"CPU ({os.cpu_count()} cores)"
        info["peak_bf16_tflops"] = None
        info["note"] = "CPU run: MFU omitted, memory is the process's peak RSS"
    return info


def _fmt(v: Any, spec: str) -> str:
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def table(result: dict[str, Any]) -> str:
    """The summary table of a result (as written to the JSON)."""
    d, s = result.get("device", {}), result.get("settings", {})
    lines = []
    for stage, outcome in result.get("stages", {}).items():
        lines.append(f"{stage:>8}: {outcome}")
    peak = d.get("peak_bf16_tflops")
    lines.append(f"device: {d.get('name', '?')}" + (f" (dense bf16 peak {peak:g} TFLOPS)" if peak else "")
                 + f", torch {d.get('torch', '?')}, transformers {d.get('transformers', '?')}"
                 + (f"; {d['note']}" if d.get("note") else ""))
    if s:
        lines.append(f"step: {s['rows']} episodes ({s['rows'] // GROUP or 1} prompts x {min(GROUP, s['rows'])}), "
                     f"{s['prompt_len']} prompt + {s['response_len']} generated tokens each; "
                     f"{'bf16 autocast, fp32 weights' if s.get('bf16') else 'fp32'}; optimization: micro-batch "
                     f"{s['micro']}, mean of {s['steps']} steps after {s['warmup']} warm-up"
                     + ("; TINY configs" if s.get("tiny") else ""))
    head = (f"{'model':14} {'params':>8} | {'opt s':>7} {'opt tok/s':>10} {'MFU':>6} {'opt GB':>7} | "
            f"{'gen s':>7} {'gen tok/s':>10} {'gen GB':>7} | {'step s':>7}")
    lines += [head, "-" * len(head)]
    for name, r in result.get("models", {}).items():
        if "skipped" in r:
            lines.append(f"{name:14} skipped: {r['skipped']}")
            continue
        o, g = r.get("optimization", {}), r.get("generation", {})
        mfu = f"{o['mfu'] * 100:5.1f}%" if isinstance(o.get("mfu"), float) else "-"
        params = f"{r['params'] / 1e6:7.1f}M" if "params" in r else "-"
        lines.append(f"{name:14} {params:>8} | {_fmt(o.get('seconds_per_step'), '7.3f')} "
                     f"{_fmt(o.get('tokens_per_s'), '10.0f')} {mfu:>6} {_fmt(o.get('peak_memory_gb'), '7.2f')} | "
                     f"{_fmt(g.get('seconds'), '7.3f')} {_fmt(g.get('tokens_per_s'), '10.0f')} "
                     f"{_fmt(g.get('peak_memory_gb'), '7.2f')} | {_fmt(r.get('step_seconds'), '7.3f')}")
        for stage in ("error", "optimization", "generation"):
            err = r.get("error") if stage == "error" else r.get(stage, {}).get("error")
            if err:
                lines.append(f"{'':14} {stage} failed: {err[:200]}")
    return "\n".join(lines)


def write_json(path: Path, result: dict[str, Any]) -> None:
    """Atomic write (a run cut short by its timeout leaves the last complete stage)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/gpu_check.json", help="where the JSON goes")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny configs of the same classes, small batch (smoke run)")
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--rows", type=int, help="episodes per step (default 64; tiny 8)")
    ap.add_argument("--prompt-len", type=int, help="prompt tokens per episode (default 512; tiny 16)")
    ap.add_argument("--response-len", type=int, help="generated tokens per episode (default 512; tiny 8)")
    ap.add_argument("--micro", type=int, help="rows per forward pass (default 16; tiny 4)")
    ap.add_argument("--steps", type=int, help="timed optimization steps (default 3; tiny 1)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed optimization steps first")
    ap.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, when not in the table")
    ap.add_argument("--deadline-s", type=float, help="skip the models left when fewer than --model-budget-s "
                                                     "seconds of this many remain")
    ap.add_argument("--model-budget-s", type=float, default=60.0)
    ap.add_argument("--summary", metavar="JSON", help="print the table of an existing result and exit")
    ap.add_argument("--stage", action="append", default=[], metavar="NAME=RESULT",
                    help="with --summary: record another stage's outcome (install, pytest) in the JSON")
    a = ap.parse_args(argv)
    defaults = dict(rows=8, prompt_len=16, response_len=8, micro=4, steps=1) if a.tiny else \
        dict(rows=64, prompt_len=512, response_len=512, micro=16, steps=3)
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    return a


def summarize(a: argparse.Namespace) -> int:
    path = Path(a.summary)
    result = json.loads(path.read_text()) if path.is_file() else {"models": {}, "stages": {}}
    if not path.is_file():
        result["stages"]["bench"] = f"no result at {path}"
    for item in a.stage:
        key, _, value = item.partition("=")
        result.setdefault("stages", {})[key] = value
    if a.stage and path.is_file():
        write_json(path, result)
    print(table(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.summary:
        return summarize(a)
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # deprecation notices of the installed transformers, once per model
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return run(a)
    finally:
        hf_logging.set_verbosity(verbosity)


def run(a: argparse.Namespace) -> int:
    """Check every model in `a.models`, write the JSON after each stage, print the table. Exit status 1 when
    a stage failed, 3 when models were skipped for time, else 0."""
    t_start = time.perf_counter()
    import torch

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device (use --device cpu --tiny for a smoke run)", file=sys.stderr)
        return 2
    info = device_info(a.device)
    if a.peak_tflops:
        info["peak_bf16_tflops"], info["note"] = a.peak_tflops, "peak given by --peak-tflops"
    settings = {k: getattr(a, k) for k in ("rows", "prompt_len", "response_len", "micro", "steps", "warmup", "tiny")}
    settings["bf16"] = a.device.startswith("cuda")
    out = Path(a.out)
    result: dict[str, Any] = {"created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                              "device": info, "settings": settings, "models": {}, "stages": {}}
    for name in a.models:
        config_class, shape = MODELS[name]
        shape = {**shape, **TINY} if a.tiny else shape
        record: dict[str, Any] = result["models"].setdefault(name, {})
        left = a.deadline_s - (time.perf_counter() - t_start) if a.deadline_s else None
        if left is not None and left < a.model_budget_s:
            record["skipped"] = f"time budget ({left:.0f} s left)"
            write_json(out, result)
            continue
        print(f"gpu_check: {name} ...", flush=True)
        try:
            check_model(name, config_class, shape, a, info["peak_bf16_tflops"], record, lambda: write_json(out, result))
        except Exception as e:  # building the model or trainer failed: report it and try the next model
            record["error"] = f"{type(e).__name__}: {str(e)[:500]}"
        write_json(out, result)
    result["seconds"] = time.perf_counter() - t_start
    write_json(out, result)
    print(table(result))
    print(f"gpu_check: wrote {out}")
    failed = [n for n, r in result["models"].items()
              if "error" in r or any("error" in r.get(s, {}) for s in ("optimization", "generation"))]
    skipped = [n for n, r in result["models"].items() if "skipped" in r]
    return 1 if failed else 3 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
