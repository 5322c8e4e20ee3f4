"""Scoring token sequences with the policy: log-probs (and entropies, values) of the generated tokens only.

The language-model head is applied only at positions whose next token is a policy token. Prompt, tool
and padding positions run through the transformer body (they are context) but never through the
vocabulary projection or the log-softmax, which is where most of the memory and time of scoring goes for a
model with a large vocabulary. A value head, when given, reads the same hidden states at the same
positions, so a critic's value of a token is the value of the state the policy sampled it from.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from agentgym.trainers.algorithms.losses import entropy_from_logits


def unwrap_peft(model: Any) -> Any:
    """The transformers model inside a `peft` wrapper (its LoRA layers are injected in place, so calling
    it runs the adapters); any other model is returned as is."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


@torch.no_grad()
def merged_state_dict(model: Any) -> dict[str, torch.Tensor]:
    """The plain transformers state dict of `model`; for a `peft` LoRA model, the base weights plus each
    active adapter's delta (what an engine holding its own copy of the weights, like vLLM, must load).
    Computed out of place: the model's own weights are not touched (merging and unmerging in place would
    add rounding drift to the frozen base at every sync)."""
    if not hasattr(model, "peft_config"):
        from agentgym.trainers.distributed import full_state_dict

        return full_state_dict(model)  # FSDP2 shards gathered: every rank's engine loads the full weights
    inner = unwrap_peft(model)
    out = {k.replace(".base_layer.", "."): v.detach().clone()
           for k, v in inner.state_dict().items() if "lora_" not in k}
    for name, module in inner.named_modules():
        if not (hasattr(module, "get_delta_weight") and hasattr(module, "base_layer")):
            continue
        if getattr(module, "merged", False):  # already inside the base weights
            continue
        key = f"{name}.weight"
        for adapter in module.active_adapters:
            if adapter in getattr(module, "lora_A", {}):
                out[key] = out[key] + module.get_delta_weight(adapter).to(out[key].dtype)
    return out


def body_and_head(model: Any) -> tuple[Any, Any] | None:
    """`(transformer body, LM head)` of a transformers causal LM, or None when it has no such split."""
    model = unwrap_peft(model)
    prefix = getattr(model, "base_model_prefix", None)
    body = getattr(model, prefix, None) if prefix else None
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if body is None or head is None or body is model:
        return None
    return body, head


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA when asked; a no-op elsewhere (CPU bf16 matmuls are slow on most CPUs)."""
    if bf16 and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# a shared prompt shorter than this is not worth a separate forward pass
MIN_SHARED_PREFIX = 16


def shared_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> int:
    """How many leading tokens every row has in common (all real tokens), leaving each row at least one
    token after it. Rows of one GRPO group start with the same prompt."""
    if input_ids.shape[0] < 2 or input_ids.shape[1] < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(dim=0) & attention_mask.bool().all(dim=0)
    length = int(same.long().cumprod(dim=0).sum())
    return min(length, input_ids.shape[1] - 1)


def _shared_prefix_hidden(body: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                          prefix: int) -> torch.Tensor:
    """The body's hidden states with the common prefix run once: the prefix's key/value cache (with its
    autograd graph) is repeated for every row and the rows' remainders attend to it. Same values and
    gradients as the full forward pass, for a fraction of the prompt compute."""
    b, t = input_ids.shape
    head = body(input_ids=input_ids[:1, :prefix], use_cache=True)
    cache = head.past_key_values
    cache.batch_repeat_interleave(b)
    positions = torch.arange(prefix, t, device=input_ids.device).expand(b, t - prefix)
    rest = body(input_ids=input_ids[:, prefix:], attention_mask=attention_mask, position_ids=positions,
                past_key_values=cache, use_cache=True).last_hidden_state
    return torch.cat([head.last_hidden_state.expand(b, prefix, -1), rest], dim=1)


def _activation_checkpointing(model: Any) -> bool:
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):  # transformers >= 5 name first
        if hasattr(type(model), name) or hasattr(model, name):
            return bool(getattr(model, name))
    return False


def hidden_states(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  share_prefix: bool = True) -> torch.Tensor:
    """Last-layer hidden states `(B, T, H)` (after the final norm: what the LM head reads).

    With `share_prefix`, rows that start with the same tokens (a group's prompt) run that prefix once
    (`_shared_prefix_hidden`) unless gradient checkpointing is on (it disables the KV cache in training).
    """
    parts = body_and_head(model)
    if parts is None:
        return model(input_ids=input_ids, attention_mask=attention_mask,
                     output_hidden_states=True).hidden_states[-1]
    body = parts[0]
    if share_prefix and not _activation_checkpointing(unwrap_peft(model)):
        prefix = shared_prefix_length(input_ids, attention_mask)
        if prefix >= MIN_SHARED_PREFIX:
            return _shared_prefix_hidden(body, input_ids, attention_mask, prefix)
    return body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


@dataclass
class TokenScores:
    """Per-token `(B, T)` outputs at policy-token positions (zero elsewhere)."""

    logprobs: torch.Tensor
    entropy: torch.Tensor | None = None
    values: torch.Tensor | None = None


def _scatter(values: torch.Tensor, target: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    out = torch.zeros(shape, dtype=values.dtype, device=values.device)
    out[:, 1:][target] = values
    return out


def score_tokens(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    loss_mask: torch.Tensor,
    temperature: float = 1.0,
    *,
    entropy: str | None = None,
    value_head: torch.nn.Module | None = None,
    bf16: bool = False,
    share_prefix: bool = True,
) -> TokenScores:
    """Log-prob of each policy token given the tokens before it, plus optional entropy and values.

    Args:
        entropy: None, "grad" (differentiable, for an entropy bonus) or "detached" (a metric only).
        value_head: maps hidden states `(N, H)` to `(N, 1)`; applied at the same positions as the LM head.
        bf16: autocast the forward pass to bf16 on CUDA.
        share_prefix: run a prefix common to all rows once (`hidden_states`); off under FSDP, whose
            collectives need the same passes on every rank.
    """
    target = loss_mask[:, 1:].bool()
    values = None
    with autocast(input_ids.device, bf16):
        parts = body_and_head(model)
        if parts is None and value_head is None:  # no body/head split: full logits, then pick
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1][target].float()
        else:
            hidden = hidden_states(model, input_ids, attention_mask, share_prefix)[:, :-1][target]
            head = parts[1] if parts is not None else model.get_output_embeddings()
            logits = head(hidden).float()
            if value_head is not None:
                values = value_head(hidden).float().squeeze(-1)
    if temperature != 1.0:
        logits = logits / temperature
    tokens = input_ids[:, 1:][target]
    logp_all = torch.log_softmax(logits, dim=-1)
    picked = logp_all.gather(-1, tokens[:, None]).squeeze(-1)
    ent = None
    if entropy == "grad":
        ent = _scatter(entropy_from_logits(logits), target, input_ids.shape)
    elif entropy == "detached":
        with torch.no_grad():
            lp = logp_all.detach()
            ent = _scatter(-(lp.exp() * lp).sum(-1), target, input_ids.shape)
    return TokenScores(
        logprobs=_scatter(picked, target, input_ids.shape),
        entropy=ent,
        values=_scatter(values, target, input_ids.shape) if values is not None else None,
    )


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
    s = score_tokens(model, input_ids, attention_mask, loss_mask, temperature,
                     entropy="grad" if with_entropy else None)
    return s.logprobs, s.entropy
