"""Training data from trajectories: a `datasets.Dataset` for SFT with TRL, and behaviour cloning here.

`to_sft_dataset` writes successful episodes in the chat "messages" format TRL's `SFTTrainer` reads.
`behaviour_cloning` is the `SFTTrainer`-free warm start inside our trainer: it maximizes the likelihood of
the policy tokens of (successful) trajectories over the same token view RL trains on, so what is cloned
is exactly what was generated. Repeating sample -> keep successes -> clone is expert iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from agentgym.trainers.data import build_batch
from agentgym.trainers.modeling import sequence_logprobs

from agentgym.trajectory import Trajectory


def successful(trajectories: Sequence[Trajectory], min_reward: float | None = None) -> list[Trajectory]:
    """Finished, error-free episodes that succeeded (or reached `min_reward` when it is given)."""
    out = []
    for t in trajectories:
        if t.error is not None or not t.turns:
            continue
        if (t.reward >= min_reward) if min_reward is not None else t.success:
            out.append(t)
    return out


def to_sft_dataset(
    trajectories: Sequence[Trajectory], *, only_successful: bool = True, min_reward: float | None = None
) -> Any:
    """A Hugging Face `Dataset` with a `messages` column (the whole conversation) plus episode metadata."""
    from datasets import Dataset

    chosen = successful(trajectories, min_reward) if only_successful else list(trajectories)
    rows: dict[str, list[Any]] = {"messages": [], "task_id": [], "env_id": [], "reward": [], "num_turns": []}
    for t in chosen:
        rows["messages"].append([{"role": m["role"], "content": m.get("content") or ""} for m in t.transcript()])
        rows["task_id"].append(t.task_id)
        rows["env_id"].append(t.env_id)
        rows["reward"].append(float(t.reward))
        rows["num_turns"].append(t.num_turns)
    return Dataset.from_dict(rows)


def behaviour_cloning(
    model: Any,
    tokenizer: Any,
    trajectories: Sequence[Trajectory],
    *,
    epochs: int = 1,
    learning_rate: float = 1e-5,
    micro_batch_size: int = 8,
    max_length: int | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, float]:
    """Supervised NLL on the policy tokens of `trajectories` (env and prompt tokens are context only).

    One optimizer step per epoch over the whole set (token-mean over all its policy tokens), micro-batched.
    Returns the mean NLL before the last step.
    """
    if not trajectories:
        return {"nll": float("nan"), "tokens": 0}
    batch = build_batch(trajectories, tokenizer, max_length)
    opt = optimizer or torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    device = next(model.parameters()).device
    total = max(batch.num_policy_tokens, 1)
    model.train()
    nll = 0.0
    for _ in range(epochs):
        opt.zero_grad(set_to_none=True)
        nll = 0.0
        for micro in batch.split(micro_batch_size):
            micro = micro.to(device)
            logp, _ = sequence_logprobs(model, micro.input_ids, micro.attention_mask, micro.loss_mask)
            loss = -(logp * micro.loss_mask).sum() / total
            loss.backward()
            nll += float(loss.detach())
        opt.step()
    opt.zero_grad(set_to_none=True)
    return {"nll": nll, "tokens": batch.num_policy_tokens}
