"""Shapers plugged into a trainer: prompts of training rollouts, rewards and advantages (ASPO, HBPO, APO)."""

from __future__ import annotations

import asyncio

import pytest
import torch
from _tiny_rl import tiny_model
from agentgym.envs.search import MultiHopQAEnv
from agentgym.trainers import APOShaper, ASPOShaper, GRPOTrainer, HBPOShaper
from agentgym.trainers.algorithms.shaping import aspo_advantages, budget_prompt, hbpo_rewards
from agentgym.trainers.shapers import MODE_INSTRUCTIONS, Group, first_tool_call_position
from test_context_reset import ScriptedEngine, byte_tokenizer

CFG = {"steps": 1, "tasks_per_step": 2, "group_size": 4, "max_new_tokens": 40, "max_length": 6000,
       "report_to": [], "learning_rate": 1e-3}


@pytest.fixture(scope="module")
def tok():
    return byte_tokenizer()


def policy(prompt: str) -> str:
    """Searches first when told a budget of 1024 tokens or to use tools; otherwise answers at once."""
    if prompt.count("<|im_start|>assistant") == 1 and ("1024 tokens" in prompt or "Use the tools" in prompt):
        return "<search>who founded it</search>"
    return "<answer>Nobody</answer>"


def make(tok, shapers, engine_policy=policy):
    model = tiny_model(tok, seed=0, hidden=32, layers=1)
    return GRPOTrainer(model, lambda: MultiHopQAEnv(n_docs=300, max_turns=3), CFG, tokenizer=tok,
                       engine=ScriptedEngine(tok, engine_policy), train_tasks=["train-0", "train-1"],
                       shapers=shapers)


def test_hbpo_states_budgets_in_training_prompts_only_and_rewards_by_budget(tok):
    shaper = HBPOShaper(budgets=(512, 1024))
    trainer = make(tok, [shaper])
    groups = asyncio.run(trainer.rollout(["train-0"], training=True))
    budgets = [512, 512, 1024, 1024]
    for t, b in zip(groups[0], budgets, strict=True):
        assert t.messages[-1]["content"].endswith(budget_prompt(b))
    assert [t.num_turns for t in groups[0]] == [1, 1, 2, 2]  # the scripted policy follows its budget
    for t in groups[0]:
        t.success = True
    shaper.shape_rewards(Group("train-0", groups[0], 4))
    expected = hbpo_rewards(torch.tensor([t.completion_tokens for t in groups[0]]), torch.ones(4, dtype=torch.bool),
                            torch.tensor(budgets))
    assert [t.reward for t in groups[0]] == pytest.approx(expected.tolist())
    # evaluation prompts are left alone
    plain = asyncio.run(trainer.rollout(["train-0"], group_size=1))
    assert "tokens." not in plain[0][0].messages[-1]["content"]


def test_aspo_raises_correct_responses_that_call_tools_earlier(tok):
    def search_then_answer(prompt: str) -> str:
        return "<search>who</search>" if prompt.count("<|im_start|>assistant") == 1 else "<answer>Nobody</answer>"

    trainer = make(tok, [ASPOShaper()], search_then_answer)
    groups = asyncio.run(trainer.rollout(["train-0"], training=True))
    trajs = groups[0]
    for t in trajs:
        t.success = True
    trajs[0].success = False
    # give two correct responses tool calls at different positions: early in one, late in another
    trajs[1].turns[0].tool_calls, trajs[2].turns[0].tool_calls = ["search"], []
    trajs[2].turns[-1].tool_calls = ["search"]
    trajs[3].turns[0].tool_calls = []
    batch = trainer.build_batch(trajs)
    batch.token_rewards[:] = 0
    batch.token_rewards[1:, 0] = 1.0  # correct ones scored 1
    adv, _ = trainer.compute_advantages(batch)
    shaped = trainer.shapers[0].shape_advantages(batch, adv, [Group("train-0", trajs, 4)])
    seq = (adv * batch.loss_mask).sum(-1) / batch.loss_mask.sum(-1)
    first = torch.tensor([first_tool_call_position(t) for t in trajs])
    expected = aspo_advantages(seq, torch.tensor([t.success for t in trajs]), first, batch.loss_mask.sum(-1),
                               batch.group_index)
    got = (shaped * batch.loss_mask).sum(-1) / batch.loss_mask.sum(-1)
    assert torch.allclose(got, expected, atol=1e-6)
    assert first[1] < first[2] and got[1] > seq[1] and got[2] < seq[2]  # earlier call up, later call down
    assert got[0] == pytest.approx(float(seq[0])) and got[3] == pytest.approx(float(seq[3]))  # unchanged


def test_apo_forces_modes_and_penalizes_slow_modes_on_easy_queries(tok):
    trainer = make(tok, [APOShaper(forced_per_mode=1)])
    groups = asyncio.run(trainer.rollout(["train-0"], training=True))
    trajs = groups[0]
    assert MODE_INSTRUCTIONS["instant"] in trajs[0].messages[-1]["content"]
    assert MODE_INSTRUCTIONS["reasoning"] in trajs[1].messages[-1]["content"]
    assert MODE_INSTRUCTIONS["agentic"] in trajs[2].messages[-1]["content"]
    assert not any(v in trajs[3].messages[-1]["content"] for v in MODE_INSTRUCTIONS.values())  # adaptive
    for t in trajs:
        t.success = True  # instant solved it: p = 1, so slower correct modes earn 0
    trainer.shapers[0].shape_rewards(Group("train-0", trajs, 4))
    assert [t.info["apo_mode"] for t in trajs] == ["instant", "reasoning", "agentic", "instant"]
    assert [t.reward for t in trajs] == [1.0, 0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="group_size"):
        APOShaper(forced_per_mode=2).plan(4)


def test_a_shaped_trainer_trains_a_step(tok):
    trainer = make(tok, [HBPOShaper(budgets=(512, 1024)), ASPOShaper()])
    m = trainer.train_step()
    assert m["episodes"] == 8 and m["updates"] <= 1
