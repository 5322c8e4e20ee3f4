"""TAPO, IGPO and EAPO trainers on the project's own envs: what each puts into the batch (rewards,
rows, advantages) checked against independent computations, and one real training step each."""

from __future__ import annotations

import asyncio
import math

import pytest
import torch
from _tiny_rl import tiny_model
from agentgym.envs.search import MultiHopQAEnv
from agentgym.trainers import (
    EAPOConfig,
    EAPOTrainer,
    IGPOConfig,
    IGPOTrainer,
    TAPOConfig,
    TAPOTrainer,
)
from agentgym.trainers.algorithms.igpo import outcome_turn_mask
from agentgym.trainers.algorithms.tapo import tapo_reward
from agentgym.trainers.igpo_probe import answer_logprobs, answer_prefix_ids, generation_prompt_ids
from agentgym.trainers.shapers import Group, flatten
from test_context_reset import ScriptedEngine, byte_tokenizer

from agentgym.models.chat_template import prompt_ids
from agentgym.wrappers import MarkovianWorkspace, TAPOWrapper

QUICK = {"steps": 1, "tasks_per_step": 2, "group_size": 2, "max_new_tokens": 24, "max_length": 6000,
         "micro_batch_size": 4, "report_to": [], "learning_rate": 1e-3}


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def qa_env() -> MultiHopQAEnv:
    return MultiHopQAEnv(n_docs=300, max_turns=3)


def trainer_for(cls, tok, env, engine=None, **cfg):
    model = tiny_model(tok, seed=0, hidden=32, layers=1)
    model.config.max_position_embeddings = 8192
    return cls(model, env, {**QUICK, **cfg}, tokenizer=tok, engine=engine, train_tasks=["train-0", "train-1"])


def collect(trainer):
    return [t for g in trainer.collect().groups for t in g]


# ---------------------------------------------------------------- TAPO


def turn_number(prompt: str) -> int:
    return prompt.count("<|im_start|>assistant")


def tapo_policy(prompt: str) -> str:
    if turn_number(prompt) == 1:
        return "<think>look it up</think><search>founder of the company</search>"
    return "<think>found</think><answer>Nobody in particular</answer>"


def test_tapo_rewards_the_whole_response_and_samples_on_accuracy(tok):
    engine = ScriptedEngine(tok, tapo_policy)
    trainer = trainer_for(TAPOTrainer, tok, lambda: TAPOWrapper(MultiHopQAEnv, max_tool_turns=2, n_docs=300), engine)
    cfg = trainer.config
    assert (cfg.clip_low, cfg.clip_high, cfg.dual_clip, cfg.loss_agg, cfg.kl_coef) == (0.2, 0.28, 10.0,
                                                                                       "token-mean", 0.0)
    trajs = [t for g in asyncio.run(trainer.rollout(["train-0", "train-1"])) for t in g]
    trainer.shape_rewards([Group("g", trajs, len(trajs))])
    for t in trajs:
        assert t.format.ok and "<response>" in t.format.response
        expected = tapo_reward(t.format.response, t.task.gold_answers, kind="fact")
        assert t.reward == pytest.approx(expected) and t.turns[-1].reward == pytest.approx(expected)
        assert t.turns[0].reward == 0.0 and -1.0 < t.reward < 1.0  # partial credit, never the format penalty
        assert trainer.dynamic_sampling_key(t) == float(t.success)
    # a malformed episode (no tags at all, then tools are disabled and still no answer) gets -1
    bad = trainer_for(TAPOTrainer, tok, lambda: TAPOWrapper(MultiHopQAEnv, max_tool_turns=1, n_docs=300),
                      ScriptedEngine(tok, lambda p: "I think the answer is Paris."))
    trajs = [t for g in asyncio.run(bad.rollout(["train-0"])) for t in g]
    bad.shape_rewards([Group("g", trajs, len(trajs))])
    assert all(t.reward == -1.0 and not t.format.ok for t in trajs)


def test_tapo_tool_cost_is_off_by_default_and_charges_each_call(tok):
    trainer = trainer_for(TAPOTrainer, tok, lambda: TAPOWrapper(MultiHopQAEnv, max_tool_turns=2, n_docs=300),
                          ScriptedEngine(tok, tapo_policy), tool_cost=0.1)
    trajs = [t for g in asyncio.run(trainer.rollout(["train-0"])) for t in g]
    before = tapo_reward(trajs[0].format.response, trajs[0].task.gold_answers, kind="fact")
    trainer.shape_rewards([Group("g", trajs, len(trajs))])
    assert trajs[0].reward == pytest.approx(before - 0.1)  # one search call
    assert TAPOConfig().tool_cost == 0.0


def test_tapo_trains_a_step_on_math_with_the_python_tool(tok):
    trainer = trainer_for(TAPOTrainer, tok, "TAPO-MathPython-v0", dynamic_sampling=False)
    trainer.train_tasks = trainer.sampler.tasks = trainer._envs[0].tasks.ids("train")[:2]
    m = trainer.train_step()
    assert m["episodes"] == 4 and math.isfinite(m["reward"])
    assert m["reward"] == -1.0  # a random model never writes a well-formed tag sequence
    with pytest.raises(ValueError, match="no 'test' tasks"):  # GSM8K's train.jsonl has no test split
        trainer.evaluate()


# ---------------------------------------------------------------- IGPO


def rewarded_batch(trainer, task_ids):
    """A rollout through the trainer's reward pipeline, then its token batch (what a step does)."""
    groups = [Group(g[0].task_id, g, len(g)) for g in asyncio.run(trainer.rollout(task_ids))]
    trainer.shape_rewards(groups)
    trajs = flatten(groups)
    return trajs, trainer.build_batch(trajs)


def igpo_policy(prompt: str) -> str:
    if turn_number(prompt) == 1:
        return "<search>founder of the company</search>"
    return "<answer>Nobody in particular</answer>"


def test_igpo_turn_rewards_are_probed_information_gains_and_the_outcome(tok):
    trainer = trainer_for(IGPOTrainer, tok, qa_env, ScriptedEngine(tok, igpo_policy))
    trajs, batch = rewarded_batch(trainer, ["train-0", "train-1"])
    assert batch.turn_rewards.shape == (4, 2)
    strip = generation_prompt_ids(tok)
    prefix = answer_prefix_ids(tok)
    for i, t in enumerate(trajs):
        # independent contexts: the conversation before each turn, rendered by the chat template
        c0 = prompt_ids(tok, t.messages)[: -len(strip)]
        c1 = prompt_ids(tok, [*t.messages, t.turns[0].assistant, *t.turns[0].observation])[: -len(strip)]
        lp = answer_logprobs(trainer.model, tok, [c0, c1], [list(t.task.gold_answers)] * 2, prefix)
        assert batch.turn_rewards[i, 0].item() == pytest.approx(float(lp[1].exp() - lp[0].exp()), abs=1e-5)
        assert batch.turn_rewards[i, 1].item() == 0.0  # a wrong answer: token-F1 0
    adv, _ = trainer.compute_advantages(batch)
    # every policy token of a turn carries that turn's advantage; tool tokens carry none
    for i in range(len(batch)):
        for k in (0, 1):
            vals = adv[i][batch.turn_index[i] == k]
            assert torch.allclose(vals, vals[0].expand_as(vals))
        assert (adv[i][batch.loss_mask[i] == 0] == 0).all()


def test_igpo_unanswered_episodes_end_with_the_format_penalty(tok):
    trainer = trainer_for(IGPOTrainer, tok, qa_env, ScriptedEngine(tok, lambda p: "<search>more</search>"))
    trajs, batch = rewarded_batch(trainer, ["train-0"])
    assert all(t.num_turns == 3 and t.answer is None for t in trajs)
    assert batch.turn_rewards[:, 2].tolist() == [-2.0, -2.0]
    outcome = outcome_turn_mask(batch.turn_mask)
    assert outcome[:, 2].all() and not outcome[:, :2].any()


def test_igpo_trains_a_step_with_the_model_generating(tok):
    trainer = trainer_for(IGPOTrainer, tok, qa_env)
    m = trainer.train_step()
    assert m["episodes"] == 4 and math.isfinite(m["reward"]) and m["updates"] == 1


# ---------------------------------------------------------------- EAPO


def eapo_policy(prompt: str) -> str:
    if "Round 1 of" in prompt:
        return "<report>start</report><search>alpha</search>"
    if "Round 2 of" in prompt:
        return "<report>more</report><search>beta</search>"
    return "<report>done</report><answer>Nobody</answer>"


def test_eapo_one_row_per_round_with_discounted_terminal_reward(tok):
    trainer = trainer_for(EAPOTrainer, tok, lambda: MarkovianWorkspace(MultiHopQAEnv, max_rounds=4, n_docs=300),
                          ScriptedEngine(tok, eapo_policy), round_gamma=0.9)
    trajs = [t for g in asyncio.run(trainer.rollout(["train-0"])) for t in g]
    assert [t.num_turns for t in trajs] == [3, 3]
    trajs[0].success = True  # pretend the first one answered right: R_T = 1
    batch = trainer.build_batch(trajs)
    assert len(batch) == 6
    for row, (t, k) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]):
        turn = trajs[t].turns[k]
        n = int(batch.attention_mask[row].sum())
        assert batch.input_ids[row, :n].tolist() == turn.context_ids + turn.token_ids
        assert batch.loss_mask[row, :n].tolist() == [0] * len(turn.context_ids) + [1] * len(turn.token_ids)
    assert batch.scores.tolist() == pytest.approx([0.81, 0.9, 1.0, 0, 0, 0])
    adv, _ = trainer.compute_advantages(batch)
    r = torch.tensor([0.81, 0.9, 1.0, 0, 0, 0])
    expected = (r - r.mean()) / (r.std() + 1e-6)  # one question: all six rounds form the group
    row_adv = (adv * batch.loss_mask).sum(-1) / batch.loss_mask.sum(-1)
    assert torch.allclose(row_adv, expected, atol=1e-5)


def test_eapo_downsamples_round_samples_to_the_data_parallel_multiple(tok):
    trainer = trainer_for(EAPOTrainer, tok, lambda: MarkovianWorkspace(MultiHopQAEnv, max_rounds=4, n_docs=300),
                          ScriptedEngine(tok, eapo_policy), dp_multiple=4, skip_zero_advantages=False)
    trajs = [t for g in asyncio.run(trainer.rollout(["train-0"])) for t in g]
    trajs[0].success = True
    batch = trainer.build_batch(trajs)
    batch.advantages, batch.returns = trainer.compute_advantages(batch)
    out = trainer.optimize(batch)
    assert out["round_samples"] == 4 and out["updates"] == 1


def test_eapo_rejects_envs_that_keep_one_context(tok):
    trainer = trainer_for(EAPOTrainer, tok, qa_env, ScriptedEngine(tok, igpo_policy))
    trajs = [t for g in asyncio.run(trainer.rollout(["train-0"])) for t in g]
    with pytest.raises(ValueError, match="MarkovianWorkspace"):
        trainer.build_batch(trajs)


def test_eapo_trains_a_step_with_the_model_generating(tok):
    trainer = trainer_for(EAPOTrainer, tok, lambda: MarkovianWorkspace(MultiHopQAEnv, max_rounds=2, n_docs=300))
    m = trainer.train_step()
    assert m["episodes"] == 4 and m["turns"] == 2.0 and math.isfinite(m["reward"])


def test_run_files_name_the_new_trainers():
    from agentgym.trainers import TRAINERS

    assert TRAINERS["tapo"] is TAPOTrainer and TRAINERS["igpo"] is IGPOTrainer and TRAINERS["eapo"] is EAPOTrainer
    with pytest.raises(ValueError, match="norm"):
        IGPOConfig(norm="sideways")
    with pytest.raises(ValueError, match="dp_multiple"):
        EAPOConfig(dp_multiple=0)
