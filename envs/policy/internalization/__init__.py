"""Policy internalization data (CC-Gen's CAP-CPT): teach a model a domain's policy so that it can act with
the policy removed from its prompt.

- `cpt_records`: category-aware continued-pretraining text (each rule as written, paraphrased and asked
  about; whole ladders of nested conditions; decisions on concrete database records; worked scenarios).
- `sft_conversations`: successful conversations of a policy-following agent in the real env, with the
  policy document dropped from the system prompt.
- `write_jsonl` / `read_jsonl` / `to_dataset` for both kinds; `export_domain` writes all of it to a folder
  (`agentgym policy export`). Train on it with `agentgym train` (`trainer: cpt` / `trainer: sft`).
"""

from agentgym.envs.policy.internalization.context import PolicyContext, policy_free_prompt
from agentgym.envs.policy.internalization.conversations import (
    asft_conversations,
    drop_policy_text,
    sft_conversations,
)
from agentgym.envs.policy.internalization.cpt import cpt_records
from agentgym.envs.policy.internalization.export import export_domain, summarize
from agentgym.envs.policy.internalization.records import (
    CPT_KINDS,
    CPTRecord,
    SFTRecord,
    read_jsonl,
    to_dataset,
    write_jsonl,
)

__all__ = [
    "CPT_KINDS",
    "CPTRecord",
    "PolicyContext",
    "SFTRecord",
    "asft_conversations",
    "cpt_records",
    "drop_policy_text",
    "export_domain",
    "policy_free_prompt",
    "read_jsonl",
    "sft_conversations",
    "summarize",
    "to_dataset",
    "write_jsonl",
]
