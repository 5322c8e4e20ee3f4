"""Token-exact rollouts of an env that rebuilds its context every round (the Markovian workspace): each
round starts a fresh token context and its turn records the exact prompt ids, one sample per round."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest
from _tiny_rl import CHATML
from agentgym.envs.search import MultiHopQAEnv
from agentgym.trainers import RolloutEngine, run_groups

from agentgym.models.chat_template import prompt_ids
from agentgym.models.generation import Generation, RowControl, SamplingParams
from agentgym.trajectory import Trajectory
from agentgym.wrappers import MarkovianWorkspace


def byte_tokenizer():
    """A byte-level tokenizer (any text round-trips exactly) with a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tok = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(sorted(alphabet))}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHATML
    return fast


class ScriptedEngine(RolloutEngine):
    """Answers each prompt with `policy(decoded prompt)`, cut after the first stop string (kept, like
    the HF and vLLM engines)."""

    run_in_thread = False

    def __init__(self, tokenizer, policy: Callable[[str], str]) -> None:
        super().__init__(tokenizer)
        self.policy = policy
        self.prompts: list[list[int]] = []

    def generate_batch(self, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       controls: Sequence[RowControl | None] | None = None) -> list[Generation]:
        out = []
        for p in prompts:
            self.prompts.append(list(p))
            text = self.policy(self.tokenizer.decode(list(p)))
            cuts = [text.find(s) + len(s) for s in params.stop if s in text]
            text = text[:min(cuts)] if cuts else text
            ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            out.append(Generation(ids, [0.0] * len(ids), text, "stop", list(p)))
        return out


def workspace_policy(prompt: str) -> str:
    """Round 1 and 2 search (with a second action the stop string cuts off), round 3 answers."""
    if "Round 1 of" in prompt:
        return "<think>private one</think><report>first report</report><search>alpha</search><search>cut off</search>"
    if "Round 2 of" in prompt:
        return "<report>second report</report><search>beta</search>"
    return "<report>done</report><answer>Nobody</answer>"


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def test_every_round_is_its_own_sample(tok):
    engine = ScriptedEngine(tok, workspace_policy)
    groups = asyncio.run(run_groups(lambda: MarkovianWorkspace(MultiHopQAEnv, max_rounds=4, n_docs=300), engine,
                                    ["test-0", "test-1"], 2, SamplingParams(200, 1.0)))
    trajs: list[Trajectory] = [t for g in groups for t in g]
    assert len(trajs) == 4
    for traj in trajs:
        assert traj.num_turns == 3 and traj.terminated
        assert [t.context_reset for t in traj.turns] == [True, True, True]
        for k, turn in enumerate(traj.turns):
            # every round starts a new context: its recorded context ids are the whole round prompt
            assert turn.context_ids is not None and turn.prompt_tokens == len(turn.context_ids)
            # the round's prompt is exactly the workspace the env returned, rendered alone
            assert turn.context_ids == prompt_ids(tok, traj.turn_prompt(k))
            assert turn.context_ids == engine.prompts[engine.prompts.index(turn.context_ids)]
            text = tok.decode(turn.context_ids)
            assert f"Round {k + 1} of 4" in text and text.count("<|im_start|>user") == 1
            assert text.endswith("<|im_start|>assistant\n")
            assert tok.decode(turn.token_ids) == turn.assistant["content"]
        _first, second, third = (tok.decode(t.context_ids) for t in traj.turns)
        assert traj.turns[0].assistant["content"].endswith("<search>alpha</search>")  # cut at the stop string
        assert "first report" in second and "<search>alpha</search>" in second and "private one" not in second
        assert "second report" in third and "first report" not in third and "<search>alpha</search>" not in third
    # the JSONL form keeps the new fields, and old records without them still load
    back = Trajectory.from_dict(trajs[0].to_dict())
    assert back.turns[1].context_ids == trajs[0].turns[1].context_ids and back.turns[1].context_reset
    old = trajs[0].to_dict()
    for t in old["turns"]:  # records from before context_ids (they had prompt_ids) still load
        del t["context_ids"], t["context_reset"]
        t["prompt_ids"] = [1, 2]
    assert Trajectory.from_dict(old).turns[0].context_ids is None


def test_ordinary_envs_keep_one_running_context(tok):
    def policy(prompt: str) -> str:
        return "<search>alpha</search>" if prompt.count("<|im_start|>assistant") == 1 else "<answer>x</answer>"

    engine = ScriptedEngine(tok, policy)
    groups = asyncio.run(run_groups(lambda: MultiHopQAEnv(n_docs=300), engine, ["test-0"], 1, SamplingParams(200)))
    traj = groups[0][0]
    assert traj.num_turns == 2
    assert not any(t.context_reset for t in traj.turns)
    second = engine.prompts[1]
    assert second[:len(engine.prompts[0])] == engine.prompts[0]  # the context grew, it was not rebuilt
    # the first turn recorded the whole prompt, the second only what was appended after the first turn
    first_turn, second_turn = traj.turns
    assert first_turn.context_ids == engine.prompts[0]
    assert second == first_turn.context_ids + first_turn.token_ids + second_turn.context_ids
    assert traj.turn_prompt(1) == [*traj.messages, traj.turns[0].assistant, *traj.turns[0].observation]
