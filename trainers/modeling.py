"""Scoring token sequences with the policy: log-probs (and entropies) of the generated tokens only.

The language-model head is applied only at positions whose next token is a policy token. Prompt, tool
and padding positions run through the transformer body (they are context) but never through the
vocabulary projection or the log-softmax, which is where most of the memory and time of scoring goes for a
model with a large vocabulary.
"""

from __future__ import annotations

from typing import Any

import torch
from agentgym.trainers.algorithms.losses import entropy_from_logits


def _body_and_head(model: Any) -> tuple[Any, Any] | None:
    prefix = getattr(model, "base_model_prefix", None)
    body = getattr(model, prefix, None) if prefix else None
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if body is None or head is None or body is model:
        return None
    return body, head


def sequence_logprobs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    loss_mask: torch.Tensor,
    temperature: float = 1.0,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-prob of each token given the tokens before it, at the positions where `loss_mask` is 1.

    Returns `(logprobs, entropy)` shaped `(B, T)` (zero where `loss_mask` is 0); `entropy` is the entropy
    of the next-token distribution that produced each policy token, or None unless `with_entropy`.
    """
    target = loss_mask[:, 1:].bool()
    parts = _body_and_head(model)
    if parts is not None:
        body, head = parts
        hidden = body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = head(hidden[:, :-1][target])
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1][target]
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    tokens = input_ids[:, 1:][target]
    picked = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
    out = torch.zeros(input_ids.shape, dtype=picked.dtype, device=picked.device)
    out[:, 1:][target] = picked
    ent = None
    if with_entropy:
        ent = torch.zeros(input_ids.shape, dtype=picked.dtype, device=picked.device)
        ent[:, 1:][target] = entropy_from_logits(logits)
    return out, ent
