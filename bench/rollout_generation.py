"""Seconds to sample one GRPO rollout batch: our `generate_batch` next to transformers' `model.generate`.

The batch is what a trainer step on `Arithmetic-v0` asks for: `--tasks` distinct prompts (system prompt with
tool schemas and a worked example, then the task; ~730 tokens, all but the last ~35 shared), each
`--group` times, sampled at temperature 1 up to `--max-new-tokens`. SmolLM2-135M-Instruct, fp32, CPU. Both
run on the same model in this process, one after the other, `--repeats` times (median reported):

- ours: identical prompts and the prefix all prompts share are prefilled once, the KV cache appends in
  place, finished rows leave the batch, and log-probs of the sampled tokens are recorded;
- peer: `model.generate(do_sample=True, output_scores=True)` on the left-padded batch (it prefills every
  row in full and keeps decoding finished rows as padding).

    python bench/rollout_generation.py [--tasks 4] [--group 8] [--max-new-tokens 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()

    import torch

    import agentgym
    from agentgym.models.chat_template import prepare_messages, prompt_ids
    from agentgym.models.generation import SamplingParams, generate_batch
    from agentgym.models.loading import load_model

    model, tok = load_model("smollm2")
    model.eval()
    env = agentgym.make("Arithmetic-v0", difficulty=1)
    distinct = []
    for task_id in env.unwrapped.tasks.ids("test")[: a.tasks]:
        messages, info = env.reset(options={"task_id": task_id})
        openai = [m if isinstance(m, dict) else m.to_openai() for m in messages]
        distinct.append(prompt_ids(tok, prepare_messages(openai, info["tools"])))
    prompts = [p for p in distinct for _ in range(a.group)]
    params = SamplingParams(a.max_new_tokens, 1.0)

    def ours() -> int:
        gens = generate_batch(model, tok, prompts, params, torch.Generator().manual_seed(0))
        return sum(len(g.token_ids) for g in gens)

    def peer() -> int:
        width = max(len(p) for p in prompts)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
        attn = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        torch.manual_seed(0)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=attn, do_sample=True, temperature=1.0, top_p=1.0,
                                 top_k=0, max_new_tokens=a.max_new_tokens, output_scores=True,
                                 return_dict_in_generate=True, pad_token_id=pad)
        new = out.sequences[:, width:]
        return int((new != pad).sum())

    times: dict[str, list[float]] = {"ours": [], "peer": []}
    tokens: dict[str, int] = {}
    for _ in range(a.repeats):
        for name, fn in (("ours", ours), ("peer", peer)):
            t0 = time.perf_counter()
            tokens[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{a.tasks} prompts x {a.group} samples, prompt lengths {sorted({len(p) for p in distinct})}, "
          f"{a.max_new_tokens} new tokens at most, {a.repeats} repeats (median)")
    for name, label in (("ours", "ours (generate_batch)"), ("peer", "transformers model.generate")):
        print(f"  {label:30s} {med[name]:7.2f} s   {tokens[name]:5d} tokens   {tokens[name] / med[name]:6.1f} tok/s")
    print(f"  ratio ours/peer: {med['ours'] / med['peer']:.2f}x time")


if __name__ == "__main__":
    main()
