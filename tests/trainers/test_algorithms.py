"""Algorithms verl has no counterpart for (or where we go beyond it): checked against hand computations."""

from __future__ import annotations

import asyncio

import pytest
import torch
from agentgym.trainers import algorithms as A


def test_batch_std_uses_group_mean_and_batch_std() -> None:
    scores = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    groups = ["a", "a", "b", "b", "c", "c"]
    mask = torch.ones(6, 3)
    rewards = torch.zeros(6, 3)
    rewards[:, -1] = scores
    adv, _ = A.batch_std_advantages(rewards, mask, groups)
    expected = (scores - torch.tensor([0.5, 0.5, 1.0, 1.0, 0.0, 0.0])) / (scores.std() + 1e-6)
    torch.testing.assert_close(adv[:, 0], expected)
    assert (adv[2:] == 0).all()  # constant groups carry no signal


def test_turn_level_returns_and_advantages() -> None:
    turn_rewards = torch.tensor([[0.2, 1.0], [0.2, 0.0], [0.0, 0.0]])
    turn_mask = torch.tensor([[1, 1], [1, 1], [1, 0]])
    ret = A.discounted_turn_returns(turn_rewards, turn_mask, gamma=0.5)
    torch.testing.assert_close(ret, torch.tensor([[0.7, 1.0], [0.2, 0.0], [0.0, 0.0]]))
    turn_index = torch.tensor([[-1, 0, 0, -1, 1], [-1, 0, -1, 1, 1], [-1, 0, 0, -1, -1]])
    adv, tok_ret = A.turn_level_advantages(turn_rewards, turn_mask, turn_index, ["g"] * 3, gamma=0.5,
                                           norm_by_std=False)
    real = ret[turn_mask.bool()]
    base = real.mean()
    assert tok_ret[0].tolist() == pytest.approx([0, 0.7, 0.7, 0, 1.0])
    assert adv[0, 1].item() == pytest.approx(0.7 - base.item())
    assert adv[2, 3:].abs().sum() == 0 and adv[:, 0].abs().sum() == 0


def test_informative_groups_and_dynamic_sampling() -> None:
    rewards = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    assert A.informative_groups(rewards, [0, 0, 1, 1, 2, 2]).tolist() == [False, False, True, True, False, False]
    batches = iter([[[1, 1], [0, 1]], [[0, 0]], [[1, 0], [0, 1]]])
    calls: list[int] = []

    async def sample(n: int):
        calls.append(n)
        return next(batches)

    res = asyncio.run(A.dynamic_sampling(sample, float, target_groups=3, max_rounds=5))
    assert res.full and res.groups == [[0, 1], [1, 0], [0, 1]]
    assert calls == [3, 2, 2] and res.dropped_groups == 2 and res.rounds == 3
    capped = asyncio.run(A.dynamic_sampling(lambda n: asyncio.sleep(0, [[1, 1]] * n), float, 2, max_rounds=2))
    assert not capped.full and capped.groups == [] and capped.rounds == 2


def test_overlong_penalty() -> None:
    got = A.overlong_penalty(torch.tensor([10, 12, 14, 16, 30]), max_length=16, buffer_length=4, penalty=1.0)
    torch.testing.assert_close(got, torch.tensor([0.0, 0.0, -0.5, -1.0, -1.0]))


def test_dual_clip_caps_negative_advantage_loss() -> None:
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[10.0, 10.0]]))  # ratio 10
    adv = torch.tensor([[-1.0, 1.0]])
    mask = torch.ones(1, 2)
    loss, m = A.ppo_clip_loss(new, old, adv, mask, clip_low=0.2, clip_high=0.28, dual_clip=3.0, agg="seq-mean-token-sum")
    # negative advantage: min(max(10, 1.2), 3) = 3; positive: max(-10, -1.28) = -1.28
    assert loss.item() == pytest.approx(3.0 - 1.28)
    assert m["clipfrac_lower"].item() == pytest.approx(0.5)


def test_token_mean_ignores_masked_nans_and_empty_rows() -> None:
    loss = torch.tensor([[1.0, float("nan")], [float("nan"), float("nan")], [3.0, 5.0]])
    mask = torch.tensor([[1, 0], [0, 0], [1, 1]])
    assert A.aggregate_loss(loss, mask, "token-mean").item() == pytest.approx(3.0)
    assert A.aggregate_loss(loss, mask, "seq-mean-token-mean").item() == pytest.approx(2.5)
    with pytest.raises(ValueError):
        A.aggregate_loss(loss, mask, "bogus")
