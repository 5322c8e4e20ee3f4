"""Supervised language-model passes: continued pretraining on plain text (loss on every token) and SFT
on chat conversations (loss on the assistant's tokens), with one small AdamW loop (`train_lm`).

Each optimizer step takes `batch_size` rows (micro-batched by `micro_batch_size`) and minimizes the mean
negative log-likelihood over their loss tokens. Scoring goes through `sequence_logprobs`, the same
function the RL trainers use, so the LM head only runs where a token is trained.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from agentgym.trainers.lm_data import LMExample, chat_examples, collate_examples, text_examples
from agentgym.trainers.modeling import sequence_logprobs

__all__ = ["LMStats", "chat_sft", "continued_pretraining", "mean_loss", "train_lm"]

LogFn = Callable[[int, int, float], None]  # (step, total steps, mean loss since the last report)


@dataclass
class LMStats:
    """What a pass did: optimizer steps, trained tokens, and the loss of every step."""

    steps: int = 0
    tokens: int = 0
    losses: list[float] = field(default_factory=list)

    @property
    def first_loss(self) -> float:
        return self.losses[0] if self.losses else float("nan")

    @property
    def last_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad or 0)


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _nll_sum(model: Any, rows: Sequence[LMExample], pad_id: int) -> tuple[torch.Tensor, int]:
    ids, attn, mask = (t.to(_device(model)) for t in collate_examples(rows, pad_id))
    logp, _ = sequence_logprobs(model, ids, attn, mask)
    return -(logp * mask).sum(), int(mask.sum())


@torch.no_grad()
def mean_loss(model: Any, examples: Sequence[LMExample], pad_id: int, micro_batch_size: int = 8) -> float:
    """Mean NLL per loss token of `examples` under `model` (no gradients; the model's mode is kept)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), micro_batch_size):
        nll, n = _nll_sum(model, examples[i:i + micro_batch_size], pad_id)
        total, count = total + float(nll), count + n
    model.train(was_training)
    return total / max(count, 1)


def train_lm(model: Any, examples: Sequence[LMExample], *, pad_id: int, epochs: int = 1,
             learning_rate: float = 1e-5, micro_batch_size: int = 4, batch_size: int | None = None,
             max_steps: int | None = None, weight_decay: float = 0.0, max_grad_norm: float | None = 1.0,
             seed: int = 0, log_every: int = 10, on_log: LogFn | None = None,
             optimizer: torch.optim.Optimizer | None = None) -> LMStats:
    """Minimize the NLL of `examples`' loss tokens: `epochs` shuffled passes of steps of `batch_size` rows
    (default `micro_batch_size`), at most `max_steps` steps; `on_log(step, total, loss)` every `log_every`
    steps and at the last one."""
    if epochs < 1 or micro_batch_size < 1 or (batch_size is not None and batch_size < 1):
        raise ValueError("epochs, micro_batch_size and batch_size must be >= 1")
    stats = LMStats()
    if not examples:
        return stats
    batch_size = batch_size or micro_batch_size
    per_epoch = math.ceil(len(examples) / batch_size)
    total = per_epoch * epochs if max_steps is None else min(per_epoch * epochs, max_steps)
    opt = optimizer or torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate,
                                         weight_decay=weight_decay)
    params = [p for group in opt.param_groups for p in group["params"]]
    order = list(range(len(examples)))
    rng = random.Random(seed)
    model.train()
    window: list[float] = []
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            if stats.steps >= total:
                return stats
            batch = [examples[i] for i in order[start:start + batch_size]]
            n_tokens = max(sum(e.num_loss_tokens for e in batch), 1)
            opt.zero_grad(set_to_none=True)
            loss_value = 0.0
            for m in range(0, len(batch), micro_batch_size):
                nll, _ = _nll_sum(model, batch[m:m + micro_batch_size], pad_id)
                loss = nll / n_tokens
                loss.backward()
                loss_value += float(loss.detach())
            if max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            opt.step()
            stats.steps += 1
            stats.tokens += n_tokens
            stats.losses.append(loss_value)
            window.append(loss_value)
            if on_log is not None and (stats.steps % max(log_every, 1) == 0 or stats.steps == total):
                on_log(stats.steps, total, sum(window) / len(window))
                window = []
    opt.zero_grad(set_to_none=True)
    return stats


def continued_pretraining(model: Any, tokenizer: Any, texts: Sequence[str], *, epochs: int = 1,
                          learning_rate: float = 1e-5, micro_batch_size: int = 4, max_length: int = 1024,
                          pack: bool = True, **kwargs: Any) -> LMStats:
    """Causal-LM training on plain `texts` (every token, EOS after each text; packed into rows of
    `max_length` unless `pack=False`). `kwargs` go to `train_lm` (batch_size, max_steps, on_log, ...)."""
    examples = text_examples(tokenizer, texts, max_length, pack)
    return train_lm(model, examples, pad_id=_pad_id(tokenizer), epochs=epochs, learning_rate=learning_rate,
                    micro_batch_size=micro_batch_size, **kwargs)


def chat_sft(model: Any, tokenizer: Any, conversations: Sequence[Sequence[dict[str, Any]]], *, epochs: int = 1,
             learning_rate: float = 1e-5, micro_batch_size: int = 4, max_length: int = 4096,
             **kwargs: Any) -> LMStats:
    """SFT on chat `conversations` (lists of {role, content}) under the tokenizer's chat template, the loss
    on the assistant messages only. `kwargs` go to `train_lm`."""
    examples = chat_examples(tokenizer, conversations, max_length)
    return train_lm(model, examples, pad_id=_pad_id(tokenizer), epochs=epochs, learning_rate=learning_rate,
                    micro_batch_size=micro_batch_size, **kwargs)
