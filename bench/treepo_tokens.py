"""Tokens generated per finished leaf: TreePO's segment tree against independent sampling of as many leaves.

Both sample from the same `HFEngine` in this process, from the same prompts, with the same stop strings and
per-turn token budget; counts are what the engine returned (every sampled id, including tails cut at a stop
string that straddled a segment boundary). The tree is `trainers.treepo.grow_trees` (the rollout of
`TreePOTrainer`); independent sampling is `--leaves` rows per prompt in one `generate_batch` call.

- `--model tiny`: the random 2-layer test model on the 2-turn key env's prompt (its EOS comes at random).
  With `--ignore-eos` every row runs to the budget, and the saving is analytic,
  sum_r S * min(B, d^r) against B * L per task; the script checks the count against it.
- `--model smollm2`: SmolLM2-135M-Instruct (fp32, CPU) on `Arithmetic-v0` (tags protocol, so a branch ends at
  `</answer>` or at a tool call's closing tag, or at EOS).

    python bench/treepo_tokens.py [--model tiny|smollm2] [--tasks 4] [--leaves 8] [--segment 16]
                                  [--branching 2] [--max-new-tokens 64] [--repeats 3] [--ignore-eos]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--leaves", type=int, default=8)
    ap.add_argument("--segment", type=int, default=16)
    ap.add_argument("--branching", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--ignore-eos", action="store_true")
    a = ap.parse_args()

    import torch
    from agentgym.trainers.engines.hf import HFEngine
    from agentgym.trainers.episodes import engine_policy
    from agentgym.trainers.treepo import TreeSpec, analytic_tree_tokens, grow_trees, open_tasks

    import agentgym
    from agentgym.models.generation import SamplingParams

    torch.manual_seed(0)
    if a.model == "tiny":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "trainers"))
        from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer

        tok = tiny_tokenizer()
        model = tiny_model(tok)
        env = KeyEnv()
        task_ids = env.tasks.ids("train")[: a.tasks]
    else:
        from agentgym.models.loading import load_model

        model, tok = load_model("smollm2")
        env = agentgym.make("Arithmetic-v0", difficulty=1, protocol="tags")
        task_ids = env.unwrapped.tasks.ids("test")[: a.tasks]
    model.eval()
    engine = HFEngine(model, tok, seed=0)
    params = SamplingParams(a.max_new_tokens, a.temperature, ignore_eos=a.ignore_eos)
    prompts, budgets, stops = asyncio.run(open_tasks(env, engine_policy(engine, params), task_ids))
    spec = TreeSpec(a.segment, a.branching, a.leaves)

    def decode(ids: list[int]) -> str:
        return tok.decode(ids, skip_special_tokens=True)

    rows: list[dict[str, float]] = []
    for rep in range(a.repeats):
        t0 = time.perf_counter()
        tree = grow_trees(engine.generate_batch, prompts, spec, params, budgets=budgets, stops=stops,
                          decode=decode, rng=random.Random(rep))
        t1 = time.perf_counter()
        # independent sampling: the same number of leaves per task, each up to the task's budget
        # (one generate_batch call per distinct budget and stop strings, as the tree's rounds are batched)
        calls: dict[tuple[int, tuple[str, ...]], list[list[int]]] = {}
        for prompt, budget, stop, leaves in zip(prompts, budgets, stops, tree.leaves, strict=True):
            calls.setdefault((budget, stop), []).extend([prompt] * len(leaves))
        indep_tokens = 0
        for (budget, stop), batch in calls.items():
            gens = engine.generate_batch(batch, SamplingParams(budget, a.temperature, stop=stop,
                                                               ignore_eos=a.ignore_eos))
            indep_tokens += sum(len(g.token_ids) for g in gens)  # every sampled id ends up in a leaf
        t2 = time.perf_counter()
        n = tree.num_leaves
        rows.append({
            "tree_tokens_per_leaf": tree.generated_tokens / n, "indep_tokens_per_leaf": indep_tokens / n,
            "tree_leaf_len": sum(len(x.token_ids) for g in tree.leaves for x in g) / n,
            "indep_leaf_len": indep_tokens / n, "tree_s": t1 - t0, "indep_s": t2 - t1,
            "rounds": tree.rounds, "fallbacks": tree.fallbacks, "leaves": n, "resent": tree.resent_tokens / n,
        })
        if a.ignore_eos and not any(stops):
            expected = len(prompts) * analytic_tree_tokens(a.segment, a.branching, a.leaves,
                                                           -(-a.max_new_tokens // a.segment))
            assert tree.generated_tokens == expected, (tree.generated_tokens, expected)
        r = rows[-1]
        print(f"repeat {rep}: tree {r['tree_tokens_per_leaf']:.1f} tokens/leaf (leaves {r['tree_leaf_len']:.1f} long, "
              f"{n} leaves, {tree.rounds} rounds, {tree.fallbacks} fallbacks, {r['resent']:.1f} sampled ids re-sent as "
              f"prompt per leaf, {r['tree_s']:.1f} s) | independent "
              f"{r['indep_tokens_per_leaf']:.1f} tokens/leaf ({r['indep_s']:.1f} s)", flush=True)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    ratio = med("tree_tokens_per_leaf") / med("indep_tokens_per_leaf")
    print(f"\nmodel {a.model}, {a.tasks} tasks x {a.leaves} leaves, S={a.segment}, d={a.branching}, "
          f"max_new_tokens={a.max_new_tokens}, ignore_eos={a.ignore_eos}, median of {a.repeats}:")
    print("| sampling | tokens generated / finished leaf | mean leaf length | seconds |")
    print("|---|---|---|---|")
    print(f"| TreePO tree | {med('tree_tokens_per_leaf'):.1f} | {med('tree_leaf_len'):.1f} | {med('tree_s'):.1f} |")
    print(f"| independent | {med('indep_tokens_per_leaf'):.1f} | {med('indep_leaf_len'):.1f} | {med('indep_s'):.1f} |")
    print(f"tree / independent tokens per leaf: {ratio:.2f}x")


if __name__ == "__main__":
    main()
