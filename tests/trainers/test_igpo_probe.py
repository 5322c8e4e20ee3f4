"""IGPO's probe: gold-answer log-probs after each turn boundary, batched, answer tokens only."""

from __future__ import annotations

import pytest
import torch
from _tiny_rl import smollm2_tokenizer, tiny_model, tiny_tokenizer
from agentgym.trainers import algorithms as A
from agentgym.trainers.data import build_batch
from agentgym.trainers.igpo_probe import (
    ANSWER_NOW,
    answer_logprobs,
    answer_prefix_ids,
    generation_prompt_ids,
    probe_episodes,
    turn_boundary_contexts,
)

from agentgym.models.chat_template import prompt_ids, turn_delta_ids
from agentgym.trajectory import Trajectory, Turn


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, seed=3)


def _ids(tok, text: str) -> list[int]:
    return list(tok(text, add_special_tokens=False)["input_ids"])


def _manual(model, context: list[int], prefix: list[int], answer: list[int]) -> tuple[float, float]:
    """One unpadded forward pass: (mean log-prob of the answer tokens, mean over prefix + answer tokens)."""
    ids = torch.tensor([context + prefix + answer])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
    per_token = logp.gather(-1, ids[0, 1:, None]).squeeze(-1)  # position i scores token i + 1
    n_ans, n_pre = len(answer), len(prefix)
    return per_token[-n_ans:].mean().item(), per_token[-(n_ans + n_pre):].mean().item()


def _contexts(tok) -> list[list[int]]:
    return [_ids(tok, "go"), _ids(tok, "call key a b c d e f g"), _ids(tok, "a"), _ids(tok, "key seven go call a b")]


def test_batched_equals_one_at_a_time_and_manual(tok, model) -> None:
    ctxs = _contexts(tok)
    golds = ["seven", "key seven", "seven", "b c"]
    prefix = _ids(tok, "answer")
    batched = answer_logprobs(model, tok, ctxs, golds, prefix=prefix, batch_size=4)
    single = answer_logprobs(model, tok, ctxs, golds, prefix=prefix, batch_size=1)
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)  # padding does not leak in
    for i, (ctx, gold) in enumerate(zip(ctxs, golds, strict=True)):
        ans_only, with_prefix = _manual(model, ctx, prefix, _ids(tok, gold))
        assert batched[i].item() == pytest.approx(ans_only, abs=1e-5)
        assert abs(batched[i].item() - with_prefix) > 1e-4  # the prefix tokens are not in the mean


def test_default_prefix_aliases_and_mode_restored(tok, model) -> None:
    ctxs = _contexts(tok)[:2]
    prefix = answer_prefix_ids(tok)
    # ChatML: a user turn with the instruction, then the assistant generation prompt and "<answer>"
    assert tok.decode(prefix) == tok.decode(_ids(tok, f"<|im_start|>user\n{ANSWER_NOW}<|im_end|>\n"
                                                   "<|im_start|>assistant\n<answer>"))
    assert answer_prefix_ids(tok, style="assistant") == _ids(tok, "<answer>")
    model.train()
    both = answer_logprobs(model, tok, ctxs, [["seven", "key"], ["a", "b c"]], batch_size=3)
    assert model.training  # restored after the probe (which runs in eval mode)
    model.eval()
    each = [answer_logprobs(model, tok, ctxs, [g, g]) for g in ("seven", "key", "a", "b c")]
    # max over aliases: query 0 -> max(seven, key); query 1 -> max(a, b c)
    torch.testing.assert_close(both, torch.stack([torch.maximum(each[0][0], each[1][0]),
                                                  torch.maximum(each[2][1], each[3][1])]))
    first = answer_logprobs(model, tok, ctxs, [["seven", "key"], ["a", "b c"]], alias_reduce="first")
    torch.testing.assert_close(first, torch.stack([each[0][0], each[2][1]]))
    with pytest.raises(ValueError):
        answer_logprobs(model, tok, ctxs, ["seven"])  # one gold per context
    with pytest.raises(ValueError):
        answer_logprobs(model, tok, ctxs, [[], "a"])  # no alias


def _episode(tok) -> Trajectory:
    """A two-turn episode as a token-level policy records it (prompt, generated ids, observation delta)."""
    gen1 = [*_ids(tok, "call key"), tok.eos_token_id]
    gen2 = [*_ids(tok, "seven"), tok.eos_token_id]
    opening = [{"role": "user", "content": "go"}]
    obs = [{"role": "tool", "content": "key seven"}]
    return Trajectory(
        episode_id="e", env_id="x", task_id="t", agent_id="p", messages=opening,
        turns=[
            Turn(assistant={"role": "assistant", "content": "call key"}, observation=obs, reward=0.0, token_ids=gen1,
                 context_ids=prompt_ids(tok, opening)),
            Turn(assistant={"role": "assistant", "content": "seven"}, reward=1.0, token_ids=gen2,
                 context_ids=turn_delta_ids(tok, opening, obs, gen1)),
        ])


def test_turn_boundary_contexts_from_the_token_view(tok) -> None:
    traj = _episode(tok)
    batch = build_batch([traj], tok)
    row_ids, row_tix = batch.input_ids[0], batch.turn_index[0]
    ctx = turn_boundary_contexts(row_ids, row_tix)
    assert len(ctx) == 2
    assert ctx[0] == prompt_ids(tok, traj.messages)  # c_0: the prompt, ending with the generation prompt
    first_turn1 = int((row_tix == 1).nonzero()[0])
    assert ctx[1] == row_ids[:first_turn1].tolist()  # c_1: everything the policy saw before turn 1
    assert ctx[1][-len(generation_prompt_ids(tok)):] == generation_prompt_ids(tok)
    stripped = turn_boundary_contexts(row_ids, row_tix, strip_suffix=generation_prompt_ids(tok))
    no_gen = tok.apply_chat_template([{"role": "user", "content": "go"}], tokenize=False, add_generation_prompt=False)
    assert stripped[0] == _ids(tok, no_gen)
    assert stripped[1] == ctx[1][:-len(generation_prompt_ids(tok))]
    final = turn_boundary_contexts(row_ids, row_tix, include_final=True, length=int(batch.attention_mask[0].sum()))
    assert len(final) == 3 and final[2] == row_ids.tolist()
    # an empty turn shares the next turn's boundary
    assert turn_boundary_contexts([5, 6, 7, 8], [-1, 1, -1, 2], num_turns=3) == [[5], [5], [5, 6, 7]]


def test_probe_episodes_batches_all_turns_into_information_gain(tok, model) -> None:
    gp = generation_prompt_ids(tok)
    contexts = [
        [_ids(tok, "go"), _ids(tok, "go call key"), _ids(tok, "go call key seven")],
        [_ids(tok, "a b")],
    ]
    lp, mask = probe_episodes(model, tok, contexts, ["seven", ["c", "d"]], prefix=answer_prefix_ids(tok),
                              batch_size=2)
    assert lp.shape == (2, 3) and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert lp[1, 1:].eq(-torch.inf).all()
    direct = answer_logprobs(model, tok, contexts[0], ["seven"] * 3)
    torch.testing.assert_close(lp[0], direct, atol=1e-5, rtol=0)
    gain = A.information_gain_rewards(lp, mask)
    assert torch.isfinite(gain).all() and gain[1].eq(0).all()
    assert gp  # the tiny template has a generation prompt to strip


def test_real_tokenizer_prefix_and_batching() -> None:
    """SmolLM2's real tokenizer and chat template (which adds a default system prompt) on a tiny random
    Llama with its vocabulary."""
    tok = smollm2_tokenizer()
    prefix = answer_prefix_ids(tok)
    text = tok.decode(prefix)
    assert text == f"<|im_start|>user\n{ANSWER_NOW}<|im_end|>\n<|im_start|>assistant\n<answer>"
    assert "SmolLM" not in text  # the template's default system prompt is not repeated
    model = tiny_model(tok, seed=1, hidden=32, layers=1)
    prompt = tok.apply_chat_template([{"role": "user", "content": "Where is the Eiffel Tower?"}], tokenize=False,
                                     add_generation_prompt=False)
    ctxs = [_ids(tok, prompt), _ids(tok, prompt + "<|im_start|>assistant\n<search>Eiffel</search><|im_end|>\n")]
    golds = [["Paris", "Paris, France"], "Paris"]
    batched = answer_logprobs(model, tok, ctxs, golds, batch_size=8)
    single = answer_logprobs(model, tok, ctxs, golds, batch_size=1)
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)
    ans_only, _ = _manual(model, ctxs[1], prefix, _ids(tok, "Paris"))
    assert batched[1].item() == pytest.approx(ans_only, abs=1e-5)


def test_probe_to_token_advantages_end_to_end(tok, model) -> None:
    """Token view -> boundary contexts -> batched probe -> gains -> turn rewards -> token advantages."""
    trajs = [_episode(tok), _episode(tok)]
    trajs[1].turns[0].token_ids = [*_ids(tok, "call a b"), tok.eos_token_id]  # a different first turn
    batch = build_batch(trajs, tok)
    gp = generation_prompt_ids(tok)
    contexts = [turn_boundary_contexts(batch.input_ids[i], batch.turn_index[i], strip_suffix=gp,
                                      length=int(batch.attention_mask[i].sum())) for i in range(2)]
    lp, probe_mask = probe_episodes(model, tok, contexts, ["seven", "seven"])
    assert lp.shape == (2, 2)  # c_0 and c_1: the final boundary is not probed
    gain = A.information_gain_rewards(lp, probe_mask)  # (2, 1): the gain of turn 0
    rewards, om = A.igpo_turn_rewards(gain, batch.turn_mask, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(rewards[:, 0], gain[:, 0])
    torch.testing.assert_close(rewards[:, 1], torch.tensor([1.0, 0.0]))
    adv, _ = A.igpo_advantages(rewards, batch.turn_mask, batch.turn_index, batch.loss_mask, batch.group_index, om)
    assert adv.shape == batch.input_ids.shape and (adv[batch.loss_mask == 0] == 0).all()
    # every token of a turn carries that turn's advantage
    for i in range(2):
        for k in range(2):
            vals = adv[i][batch.turn_index[i] == k]
            assert vals.numel() > 0 and torch.allclose(vals, vals[0].expand_as(vals))
