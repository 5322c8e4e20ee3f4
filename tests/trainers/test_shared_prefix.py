"""Scoring rows that share a prompt runs the prompt once; values and gradients equal the full forward pass."""

from __future__ import annotations

import torch
from _tiny_rl import tiny_model, tiny_tokenizer
from agentgym.trainers.modeling import hidden_states, score_tokens, shared_prefix_length


def _batch(vocab: int, b: int = 4, prefix: int = 20, t: int = 36):
    g = torch.Generator().manual_seed(0)
    shared = torch.randint(0, vocab, (prefix,), generator=g)
    ids = torch.cat([shared.expand(b, prefix), torch.randint(0, vocab, (b, t - prefix), generator=g)], 1)
    attn = torch.ones(b, t, dtype=torch.long)
    attn[1, 30:] = 0
    attn[3, 25:] = 0
    loss_mask = attn.clone()
    loss_mask[:, :prefix + 1] = 0
    return ids, attn, loss_mask


def test_shared_prefix_length_stops_at_the_first_difference_and_at_padding():
    ids = torch.tensor([[1, 2, 3, 4, 5], [1, 2, 3, 9, 9], [1, 2, 3, 4, 0]])
    attn = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    assert shared_prefix_length(ids, attn) == 3
    assert shared_prefix_length(ids[:1], attn[:1]) == 0  # one row: nothing to share
    assert shared_prefix_length(ids[[0, 0]], attn[[0, 0]]) == 4  # identical rows keep one token to score


def test_scores_and_gradients_match_the_full_forward_pass():
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=3, hidden=64, layers=2)
    model.train()
    ids, attn, loss_mask = _batch(len(tok))
    params = [p for p in model.parameters() if p.requires_grad]

    shared = hidden_states(model, ids, attn, share_prefix=True)
    full = hidden_states(model, ids, attn, share_prefix=False)
    live = attn.bool()
    assert torch.allclose(shared[live], full[live], atol=1e-5)

    # the trainer's scoring (prefix shared) against plain full logits, log-softmax, gather
    lp = score_tokens(model, ids, attn, loss_mask).logprobs
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]
    ref = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1) * loss_mask[:, 1:]
    assert torch.allclose(lp[:, 1:], ref, atol=1e-5)
    g_shared = torch.autograd.grad(lp.sum(), params)
    g_full = torch.autograd.grad(ref.sum(), params)
    for a, b in zip(g_shared, g_full, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_identical_prompts_are_prefilled_once_with_the_same_samples():
    from agentgym.models.generation import SamplingParams, generate_batch

    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=4, hidden=64, layers=2).eval()
    prompt = tok("a b c d e f g a b c", add_special_tokens=False)["input_ids"]
    calls: list[int] = []
    hook = model.model.register_forward_pre_hook(lambda m, a, kw: calls.append(kw["input_ids"].shape[0]),
                                                 with_kwargs=True)
    greedy = SamplingParams(6, 0.0)
    together = generate_batch(model, tok, [prompt] * 4, greedy)
    hook.remove()
    assert calls[0] == 1  # the prefill ran one row
    alone = generate_batch(model, tok, [prompt], greedy)[0]  # one row: the ordinary path
    for g in together:
        assert g.token_ids == alone.token_ids
        assert torch.allclose(torch.tensor(g.logprobs), torch.tensor(alone.logprobs), atol=1e-5)
    # sampling: the rows share the prefill but not their draws
    sampled = generate_batch(model, tok, [prompt] * 8, SamplingParams(6, 1.0), torch.Generator().manual_seed(7))
    assert len({tuple(g.token_ids) for g in sampled}) > 1


def test_distinct_prompts_share_their_common_prefix_in_one_prefill_and_decode_as_if_alone():
    from agentgym.models.generation import SamplingParams, generate_batch

    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=5, hidden=64, layers=2).eval()
    system = tok("a b c d e f g a b c d e", add_special_tokens=False)["input_ids"]
    tails = ["f", "g a b", "c c", "f"]  # different lengths; the first and last prompts are identical
    prompts = [system + tok(t, add_special_tokens=False)["input_ids"] for t in tails]
    shapes: list[tuple[int, ...]] = []
    hook = model.model.register_forward_pre_hook(lambda m, a, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                                 with_kwargs=True)
    greedy = SamplingParams(8, 0.0)
    together = generate_batch(model, tok, prompts, greedy)
    hook.remove()
    distinct_tails = [len(p) - len(system) for p in prompts[:3]]
    assert shapes[0] == (1, len(system))  # the shared prefix, once
    assert shapes[1] == (3, max(distinct_tails))  # each distinct remainder once, padded after the prefix
    for p, g in zip(prompts, together, strict=True):
        alone = generate_batch(model, tok, [p], greedy)[0]
        assert g.token_ids == alone.token_ids
        assert torch.allclose(torch.tensor(g.logprobs), torch.tensor(alone.logprobs), atol=1e-5)
    # a prompt that is a prefix of another still gets its own last-token logits
    short, long = prompts[1][:-1], prompts[1]
    both = generate_batch(model, tok, [short, long], greedy)
    assert both[0].token_ids == generate_batch(model, tok, [short], greedy)[0].token_ids
    assert both[1].token_ids == together[1].token_ids


def test_empty_prompts_are_refused():
    import pytest

    from agentgym.models.generation import SamplingParams, generate_batch

    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=5, hidden=64, layers=2).eval()
    with pytest.raises(ValueError, match="non-empty prompt"):
        generate_batch(model, tok, [[5, 6], []], SamplingParams(4, 0.0))


def test_reserved_cache_layer_behaves_like_the_concatenating_one():
    from transformers.cache_utils import DynamicLayer

    from agentgym.models.kv_cache import ReservedLayer

    g = torch.Generator().manual_seed(0)
    ours, ref = ReservedLayer(reserve=3), DynamicLayer()

    def both(op, *args):
        getattr(ours, op)(*args)
        getattr(ref, op)(*args)
        assert ours.get_seq_length() == ref.get_seq_length()
        assert torch.equal(ours.keys, ref.keys) and torch.equal(ours.values, ref.values)

    def kv(b: int, t: int):
        return torch.randn(b, 2, t, 4, generator=g), torch.randn(b, 2, t, 4, generator=g)

    both("update", *kv(1, 5))
    both("batch_repeat_interleave", 3)
    for t in (2, 1, 1, 4):  # the third and fourth appends outgrow the reserve
        k, v = kv(3, t)
        out_k, _ = ours.update(k, v)
        ref.update(k, v)
        assert torch.equal(out_k, ref.keys)
    both("batch_select_indices", torch.tensor([2, 0, 0]))
    both("update", *kv(3, 1))
    both("crop", -2)
    both("update", *kv(3, 2))
