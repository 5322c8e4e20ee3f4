"""Shapers: A^2FM's APO reward, HBPO's budget reward and advantage, ASPO's early-tool-call advantage."""

from __future__ import annotations

import math

import pytest
import torch
from agentgym.trainers import algorithms as A

EPS = 1e-6


def _close(got: torch.Tensor, expected, atol: float = 1e-5) -> None:
    torch.testing.assert_close(got.float(), torch.as_tensor(expected, dtype=torch.float32), atol=atol, rtol=0)


# ------------------------------------------------------------------------------------------ APO


def test_apo_rollout_plan() -> None:
    plan = A.plan_apo_rollouts(forced_per_mode=2, adaptive=3)
    assert plan == ["instant", "instant", "reasoning", "reasoning", "agentic", "agentic", None, None, None]
    assert A.plan_apo_rollouts(0, 2) == [None, None]
    with pytest.raises(ValueError):
        A.plan_apo_rollouts(-1, 2)


def test_apo_reward_penalizes_non_instant_modes_on_easy_queries() -> None:
    modes = ["instant", "instant", "reasoning", "agentic", "instant", "reasoning", "reasoning"]
    acc = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    fmt = torch.tensor([1, 1, 1, 0, 1, 1, 1])
    groups = ["q1", "q1", "q1", "q1", "q2", "q2", "q3"]
    r = A.apo_rewards(modes, acc, fmt, groups, alpha=2.0)
    # q1: instant accuracy p = (1 + 0) / 2 = 0.5 > 0 -> easy; non-instant r_adaptive = 1 - 0.5^2 = 0.75
    #     instant correct 1*1*1 = 1; instant wrong 0; reasoning 1 * 0.75 * 1; agentic bad format 1 * 0.75 * 0
    # q2: p = 0 -> not easy -> the correct reasoning rollout keeps 1
    # q3: no instant rollout -> p = 0 -> 1
    _close(r, [1.0, 0.0, 0.75, 0.0, 0.0, 1.0, 1.0])
    torch.testing.assert_close(A.instant_accuracy(modes, acc, groups), torch.tensor([0.5] * 4 + [0.0] * 3))
    # alpha 1: 1 - 0.5 = 0.5; threshold 0.5 (strict): p = 0.5 is not easy -> no penalty
    assert A.apo_rewards(modes, acc, fmt, groups, alpha=1.0)[2].item() == pytest.approx(0.5)
    assert A.apo_rewards(modes, acc, fmt, groups, easy_threshold=0.5)[2].item() == 1.0
    # instant always right (p = 1): a correct reasoning answer earns 1 - 1 = 0
    r1 = A.apo_rewards(["instant", "reasoning"], torch.tensor([1.0, 1.0]), torch.ones(2), ["q", "q"])
    _close(r1, [1.0, 0.0])
    with pytest.raises(ValueError):
        A.apo_rewards(["fast"], torch.tensor([1.0]), torch.ones(1), ["q"])


# ----------------------------------------------------------------------------------------- HBPO


def test_budget_prompt_and_assignment() -> None:
    assert A.budget_prompt(512) == "I will answer the question within 512 tokens."
    assert A.budget_prompt(1024, "(budget: {budget})") == "(budget: 1024)"
    assert A.assign_budgets(8) == [512, 512, 1024, 1024, 2048, 2048, 2560, 2560]
    assert A.assign_budgets(6) == [512, 512, 1024, 1024, 2048, 2560]  # remainder to the smallest budgets
    assert A.assign_budgets(3, (100, 200)) == [100, 100, 200]


def test_hbpo_cosine_budget_reward() -> None:
    lengths = torch.tensor([0, 2048, 512, 1024, 100])
    budgets = torch.tensor([512, 2560, 512, 512, 512])
    correct = torch.tensor([True, True, True, True, False])
    r = A.hbpo_rewards(lengths, correct, budgets, max_length=4096, beta=1.0, alpha=1e-3)
    # within budget: cos(pi n / 8192):  n = 0 -> 1;  n = 2048 -> cos(pi / 4);  n = 512 = b -> cos(pi / 16)
    # over budget: cos(pi * 512 / 8192) - 1e-3 * (1024 - 512) = cos(pi / 16) - 0.512;  wrong -> 0
    c16 = math.cos(math.pi / 16)
    _close(r, [1.0, math.cos(math.pi / 4), c16, c16 - 0.512, 0.0])


def test_hbpo_advantage_intra_plus_inter() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.2, 0.2])
    budgets = torch.tensor([512, 512, 1024, 1024])
    # intra: subgroup 512 = [1, 0] mean 0.5, std sqrt(0.5) -> +-0.5 / sqrt(0.5) = +-0.70711; subgroup 1024 equal -> 0
    intra = [0.5 / math.sqrt(0.5), -0.5 / math.sqrt(0.5), 0.0, 0.0]
    # group: mean 0.35; deviations 0.65, -0.35, -0.15, -0.15; squares 0.4225 + 0.1225 + 0.0225 + 0.0225 = 0.59
    std = math.sqrt(0.59 / 3)
    glob = [0.65 / std, -0.35 / std, -0.15 / std, -0.15 / std]
    got = A.hbpo_advantages(rewards, budgets, ["q"] * 4)
    _close(got, [i + g for i, g in zip(intra, glob, strict=True)])
    # subgroup means 0.5 and 0.2 against the group mean 0.35: +-0.15 / std
    got_mean = A.hbpo_advantages(rewards, budgets, ["q"] * 4, inter="subgroup_mean")
    _close(got_mean, [intra[0] + 0.15 / std, intra[1] + 0.15 / std, -0.15 / std, -0.15 / std])
    # a subgroup of one rollout has no intra term; the group term remains
    solo = A.hbpo_advantages(torch.tensor([1.0, 0.0]), torch.tensor([512, 1024]), ["q", "q"])
    _close(solo, [0.5 / math.sqrt(0.5), -0.5 / math.sqrt(0.5)])
    # two queries do not mix
    two = A.hbpo_advantages(torch.tensor([1.0, 0.0, 5.0, 5.0]), torch.tensor([512, 512, 512, 512]), ["a", "a", "b", "b"])
    _close(two[2:], [0.0, 0.0])
    with pytest.raises(ValueError):
        A.hbpo_advantages(rewards, budgets, ["q"] * 4, inter="bogus")


# ----------------------------------------------------------------------------------------- ASPO


def test_aspo_shifts_correct_responses_toward_early_calls() -> None:
    adv = torch.tensor([1.0, 1.0, 0.8, -1.0, 0.5])
    correct = torch.tensor([True, True, True, False, True])
    first_call = torch.tensor([100, 300, -1, 50, 200])
    lengths = torch.tensor([1000, 1000, 500, 800, 1000])
    got = A.aspo_advantages(adv, correct, first_call, lengths, ["q"] * 5)
    # correct callers: rows 0, 1, 4 -> mean p = (100 + 300 + 200) / 3 = 200, mean L = 1000
    # row 0: -2 (100 - 200) / 1000 = +0.2 (bound 0.7) -> 1.2;  row 1: -0.2 -> 0.8;  row 4: 0 -> 0.5
    # row 2 (correct, no call) and row 3 (incorrect) are unchanged
    _close(got, [1.2, 0.8, 0.8, -1.0, 0.5])


def test_aspo_clip_and_no_signal_cases() -> None:
    # p = 0 and 1000 of L = 1000: mean p 500 -> shifts -2 (-500) / 1000 = +1 and -1, clipped to +-0.7 * 0.1
    got = A.aspo_advantages(torch.tensor([0.1, 0.1]), torch.tensor([True, True]), torch.tensor([0, 1000]),
                            torch.tensor([1000, 1000]), ["q", "q"])
    _close(got, [0.17, 0.03])
    # every response correct -> GRPO advantage 0 -> bound 0 -> no shaping
    zero = A.aspo_advantages(torch.zeros(2), torch.tensor([True, True]), torch.tensor([0, 1000]),
                             torch.tensor([1000, 1000]), ["q", "q"])
    assert (zero == 0).all()
    # nobody called a tool: unchanged; groups use their own means
    same = A.aspo_advantages(torch.tensor([0.5]), torch.tensor([True]), torch.tensor([-1]), torch.tensor([9]), ["q"])
    assert same.tolist() == [0.5]
    two = A.aspo_advantages(torch.tensor([1.0, 1.0]), torch.tensor([True, True]), torch.tensor([10, 900]),
                            torch.tensor([1000, 1000]), ["a", "b"])
    _close(two, [1.0, 1.0])  # each group's own mean position: shift 0
