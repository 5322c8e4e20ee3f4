"""IGPO's probe: how strongly the policy believes the gold answer after each turn.

For each context (the token ids of a conversation up to a turn boundary) the probe appends an "answer now"
prefix and the gold answer's tokens, runs the policy with teacher forcing, and returns the mean log-prob
of the gold answer tokens only - `log p_t` in IGPO's `p_t = exp(mean log pi(a_j | context, prefix, a_<j))`.
The forward passes for all episodes and turns are batched together (right padding: real tokens keep
positions 0..n-1, and causal attention never lets a real token see the padding after it), and only the
answer positions go through the LM head (`modeling.sequence_logprobs`).

Contexts come from the token view (`TokenBatch`): `turn_boundary_contexts` cuts a row at the start of every
turn, which is exactly what the policy had seen before that turn.

Gold aliases: every alias is scored and the best (max mean log-prob, i.e. max `p_t`) is kept - the policy's
belief in *the* answer is its belief in whichever surface form it finds most likely. `alias_reduce="first"`
scores only the first alias (half the compute with two aliases).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from agentgym.trainers.modeling import sequence_logprobs

ANSWER_NOW = "Now give your final answer in <answer></answer> tags, with no explanation."
ANSWER_OPEN = "<answer>"


def answer_prefix_ids(
    tokenizer: Any,
    instruction: str = ANSWER_NOW,
    opening: str = ANSWER_OPEN,
    style: str = "user",
) -> list[int]:
    """Token ids of the "answer now" prefix placed between a context and the gold answer.

    ``user`` style: a user message with `instruction` rendered by the chat template, the assistant
    generation prompt, then `opening` (`<answer>`); the context must end at a message boundary (strip the
    trailing generation prompt, see `turn_boundary_contexts`). ``assistant`` style: only `opening`, for
    contexts that end with the generation prompt (the policy starts its reply with the answer tag).

    The user message is cut out of the template's rendering of `[user "x", user instruction]` minus that
    of `[user "x"]`, so a default system prompt or other template preamble is not repeated.
    """
    if style == "assistant":
        return _ids(tokenizer, opening)
    if style != "user":
        raise ValueError(f"unknown prefix style {style!r}; choose 'user' or 'assistant'")
    base = [{"role": "user", "content": "x"}]
    head = tokenizer.apply_chat_template(base, tokenize=False, add_generation_prompt=False)
    full = tokenizer.apply_chat_template([*base, {"role": "user", "content": instruction}], tokenize=False,
                                         add_generation_prompt=True)
    if not full.startswith(head):
        raise ValueError("the chat template does not render a conversation as a prefix of its extension")
    return _ids(tokenizer, full[len(head):] + opening)


def generation_prompt_ids(tokenizer: Any) -> list[int]:
    """Token ids the chat template appends as the assistant generation prompt (`<|im_start|>assistant\\n`)."""
    base = [{"role": "user", "content": "x"}]
    without = tokenizer.apply_chat_template(base, tokenize=False, add_generation_prompt=False)
    with_gen = tokenizer.apply_chat_template(base, tokenize=False, add_generation_prompt=True)
    if not with_gen.startswith(without):
        raise ValueError("cannot isolate the generation prompt of this chat template")
    return _ids(tokenizer, with_gen[len(without):])


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def turn_boundary_contexts(
    input_ids: Sequence[int] | torch.Tensor,
    turn_index: Sequence[int] | torch.Tensor,
    num_turns: int | None = None,
    strip_suffix: Sequence[int] = (),
    include_final: bool = False,
    length: int | None = None,
) -> list[list[int]]:
    """The contexts of one token-view row at each turn boundary: `c_t` = everything before turn `t`.

    Args:
        input_ids: the row's token ids (`TokenBatch.input_ids[i]`).
        turn_index: the row's token-level turn index (`k` on turn `k`'s policy tokens, -1 elsewhere).
        num_turns: K, the episode's number of turns (default: the largest turn index + 1).
        strip_suffix: removed from the end of a context when present - pass `generation_prompt_ids(tok)`
            for ``user``-style prefixes, since every boundary context ends with the next turn's
            generation prompt.
        include_final: also return `c_K`, the whole row (IGPO does not need it: the final turn is
            rewarded by the outcome).
        length: the row's real length (`attention_mask.sum()`); default: all of `input_ids`.

    Returns:
        `[c_0, ..., c_{K-1}]` (plus `c_K`): `c_0` is the prompt. A turn with no tokens (an empty
        generation) shares the boundary of the next non-empty turn.
    """
    ids = [int(x) for x in (input_ids.tolist() if isinstance(input_ids, torch.Tensor) else input_ids)]
    tix = [int(x) for x in (turn_index.tolist() if isinstance(turn_index, torch.Tensor) else turn_index)]
    n = len(ids) if length is None else int(length)
    ids, tix = ids[:n], tix[:n]
    k_turns = (max(tix) + 1 if tix else 0) if num_turns is None else num_turns
    starts: dict[int, int] = {}
    for pos, k in enumerate(tix):
        if k >= 0 and k not in starts:
            starts[k] = pos
    bounds = [n] * (k_turns + 1)
    for k in range(k_turns - 1, -1, -1):
        bounds[k] = starts.get(k, bounds[k + 1])
    suffix = [int(x) for x in strip_suffix]
    out = []
    for k in range(k_turns + 1 if include_final else k_turns):
        ctx = ids[:bounds[k]]
        if suffix and k < k_turns and ctx[-len(suffix):] == suffix:
            ctx = ctx[:-len(suffix)]
        out.append(ctx)
    return out


def _device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


@torch.no_grad()
def answer_logprobs(
    model: Any,
    tokenizer: Any,
    contexts: Sequence[Sequence[int]],
    gold_answers: Sequence[str | Sequence[str]],
    prefix: str | Sequence[int] | None = None,
    batch_size: int = 16,
    alias_reduce: str = "max",
) -> torch.Tensor:
    """Mean log-prob of the gold answer tokens after each context, teacher-forced behind `prefix`.

    Args:
        model: a causal LM (`transformers`); it is put in eval mode for the probe and restored after.
        tokenizer: its tokenizer (pad id: `pad_token_id`, else `eos_token_id`, else 0).
        contexts: N token-id lists.
        gold_answers: N gold answers; each a string or a list of aliases.
        prefix: token ids, or text to tokenize, placed between context and answer; default
            `answer_prefix_ids(tokenizer)` (a ``user``-style "answer now" message and `<answer>`).
        batch_size: sequences per forward pass. Sequences are sorted by length first so a batch holds
            similar lengths (little padding); the result is in input order.
        alias_reduce: ``max`` over aliases (default) or ``first`` alias only.

    Returns:
        `(N,)` float32 tensor on the CPU. Only the answer tokens' log-probs enter each mean; the prefix
        (and context) only condition them. The answer is tokenized on its own (`add_special_tokens=False`),
        so its tokens never merge with the prefix's.
    """
    if alias_reduce not in ("max", "first"):
        raise ValueError(f"alias_reduce must be 'max' or 'first', got {alias_reduce!r}")
    if len(contexts) != len(gold_answers):
        raise ValueError(f"{len(contexts)} contexts but {len(gold_answers)} gold answers")
    if prefix is None:
        prefix_ids = answer_prefix_ids(tokenizer)
    elif isinstance(prefix, str):
        prefix_ids = _ids(tokenizer, prefix)
    else:
        prefix_ids = [int(x) for x in prefix]
    seqs: list[tuple[int, list[int], int]] = []  # (query index, token ids, answer length)
    for i, (ctx, gold) in enumerate(zip(contexts, gold_answers, strict=True)):
        aliases = [gold] if isinstance(gold, str) else list(gold)
        if alias_reduce == "first":
            aliases = aliases[:1]
        if not aliases:
            raise ValueError(f"query {i} has no gold answer")
        if not ctx and not prefix_ids:
            raise ValueError(f"query {i}: the first answer token needs at least one token before it")
        for alias in aliases:
            ans = _ids(tokenizer, alias)
            if not ans:
                raise ValueError(f"gold answer {alias!r} of query {i} has no tokens")
            seqs.append((i, [int(x) for x in ctx] + prefix_ids + ans, len(ans)))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    pad = int(pad or 0)
    device = _device(model)
    order = sorted(range(len(seqs)), key=lambda j: len(seqs[j][1]), reverse=True)
    means = torch.empty(len(seqs), dtype=torch.float32)
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            width = max(len(seqs[j][1]) for j in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attn = torch.zeros((len(chunk), width), dtype=torch.long)
            target = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, j in enumerate(chunk):
                _, toks, n_ans = seqs[j]
                ids[row, :len(toks)] = torch.tensor(toks)
                attn[row, :len(toks)] = 1
                target[row, len(toks) - n_ans:len(toks)] = 1  # the answer tokens only
            lp, _ = sequence_logprobs(model, ids.to(device), attn.to(device), target.to(device))
            lp = lp.float().cpu()
            means[chunk] = (lp * target).sum(-1) / target.sum(-1)
    finally:
        model.train(was_training)
    out = torch.full((len(contexts),), -torch.inf, dtype=torch.float32)
    for j, (i, _, _) in enumerate(seqs):
        out[i] = torch.maximum(out[i], means[j])
    return out


@torch.no_grad()
def probe_episodes(
    model: Any,
    tokenizer: Any,
    contexts: Sequence[Sequence[Sequence[int]]],
    gold_answers: Sequence[str | Sequence[str]],
    prefix: str | Sequence[int] | None = None,
    batch_size: int = 16,
    alias_reduce: str = "max",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Probe every turn boundary of every episode in one batched pass.

    Args:
        contexts: per episode, its boundary contexts `[c_0, c_1, ...]` (from `turn_boundary_contexts`).
        gold_answers: per episode, its gold answer or aliases.
        prefix, batch_size, alias_reduce: as in `answer_logprobs`.

    Returns:
        `(logprobs, mask)`, both `(E, W)` with `W` the most contexts of any episode: the mean gold-answer
        log-prob at each boundary, and 1 where a boundary exists. Feed them to
        `information_gain_rewards(logprobs, mask)` (padding is -inf, masked out there).
    """
    flat_ctx = [c for ep in contexts for c in ep]
    flat_gold = [g for ep, g in zip(contexts, gold_answers, strict=True) for _ in ep]
    flat = answer_logprobs(model, tokenizer, flat_ctx, flat_gold, prefix, batch_size, alias_reduce) if flat_ctx \
        else torch.empty(0)
    width = max((len(ep) for ep in contexts), default=0)
    out = torch.full((len(contexts), width), -torch.inf)
    mask = torch.zeros((len(contexts), width), dtype=torch.long)
    pos = 0
    for e, ep in enumerate(contexts):
        out[e, :len(ep)] = flat[pos:pos + len(ep)]
        mask[e, :len(ep)] = 1
        pos += len(ep)
    return out, mask
