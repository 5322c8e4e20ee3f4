"""`export_domain`: a domain's internalization data on disk: `cpt.jsonl`, `sft.jsonl` and `summary.json`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentgym.envs.policy.internalization.conversations import sft_conversations
from agentgym.envs.policy.internalization.cpt import cpt_records
from agentgym.envs.policy.internalization.records import CPTRecord, SFTRecord, write_jsonl
from agentgym.envs.policy.types import PolicyDomain

__all__ = ["export_domain", "summarize"]


def summarize(domain: PolicyDomain, cpt: Sequence[CPTRecord], sft: Sequence[SFTRecord], tasks: int) -> dict[str, Any]:
    """Counts per category and kind of the CPT records, and of the SFT conversations kept."""
    return {
        "domain": domain.name,
        "generator": {k: v for k, v in domain.metadata.items() if isinstance(v, (str, int, float, bool, list))},
        "rules": dict(sorted(Counter(str(r.category) for r in domain.rules).items())),
        "cpt": {"records": len(cpt), "by_kind": dict(sorted(Counter(r.kind for r in cpt).items())),
                "by_category": dict(sorted(Counter(r.category for r in cpt).items())),
                "by_category_kind": {f"{c}/{k}": n for (c, k), n in sorted(Counter((r.category, r.kind)
                                                                                   for r in cpt).items())}},
        "sft": {"tasks": tasks, "conversations": len(sft),
                "policy_dropped": all(r.policy_dropped for r in sft),
                "assistant_turns": sum(r.num_turns for r in sft),
                "by_category": dict(sorted(Counter(c for r in sft for c in r.categories).items()))},
    }


def export_domain(domain: PolicyDomain, out_dir: str | Path, *, seed: int = 0, paraphrases: int = 3,
                  cases: int = 4, drop_policy: bool = True, **sft_options: Any) -> dict[str, Any]:
    """Write `out_dir/cpt.jsonl` (`cpt_records`), `out_dir/sft.jsonl` (`sft_conversations`) and
    `out_dir/summary.json`; returns the summary. `sft_options` go to `sft_conversations` (tasks, agent,
    concurrency, ...)."""
    out = Path(out_dir)
    cpt = cpt_records(domain, seed, paraphrases=paraphrases, cases=cases)
    sft = sft_conversations(domain, drop_policy=drop_policy, **sft_options)
    tasks = sft_options.get("tasks")
    played = len(domain.tasks) if tasks is None else (min(tasks, len(domain.tasks)) if isinstance(tasks, int)
                                                      else len(tasks))
    write_jsonl(cpt, out / "cpt.jsonl")
    write_jsonl(sft, out / "sft.jsonl")
    summary = summarize(domain, cpt, sft, played)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
