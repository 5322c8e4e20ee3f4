"""EAPO (IterResearch, arXiv 2511.07327): geometric round rewards, per-question normalization, downsampling."""

from __future__ import annotations

import math

import pytest
import torch
from agentgym.trainers import algorithms as A

EPS = 1e-6

# One question, three trajectories flattened into round-samples:
#   traj 1: 3 rounds, success  -> rounds t = 1, 2, 3
#   traj 2: 1 round,  success  -> round t = 1
#   traj 3: 2 rounds, failure  -> rounds t = 1, 2
ROUND = torch.tensor([1, 2, 3, 1, 1, 2])
NUM = torch.tensor([3, 3, 3, 1, 2, 2])
SUCCESS = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])


def test_round_rewards_are_discounted_from_the_end() -> None:
    r = A.eapo_round_rewards(ROUND, NUM, SUCCESS, gamma=0.5)
    # traj 1: 0.5^(3-1) = 0.25, 0.5^1 = 0.5, 0.5^0 = 1;  traj 2: 0.5^0 = 1;  traj 3 failed: 0, 0
    torch.testing.assert_close(r, torch.tensor([0.25, 0.5, 1.0, 1.0, 0.0, 0.0]))
    # gamma 1: every round carries the terminal reward
    torch.testing.assert_close(A.eapo_round_rewards(ROUND, NUM, SUCCESS, gamma=1.0), SUCCESS)
    with pytest.raises(ValueError):
        A.eapo_round_rewards(torch.tensor([4]), torch.tensor([3]), torch.tensor([1.0]))  # t > T
    with pytest.raises(ValueError):
        A.eapo_round_rewards(torch.tensor([0]), torch.tensor([3]), torch.tensor([1.0]))  # t is 1-based
    with pytest.raises(ValueError):
        A.eapo_round_rewards(ROUND, NUM, SUCCESS, gamma=0.0)


def test_advantages_normalized_over_all_rounds_of_the_group() -> None:
    r = A.eapo_round_rewards(ROUND, NUM, SUCCESS, gamma=0.5)
    adv, ret = A.eapo_advantages(r, ["q"] * 6)
    # in quarters the rewards are 1, 2, 4, 4, 0, 0: sum 11/4, mean 11/24
    # deviations (in 1/24): -5, 1, 13, 13, -11, -11; squares 25 + 1 + 169 + 169 + 121 + 121 = 606 (1/576)
    std = math.sqrt(606 / 576 / 5)  # unbiased: / (6 - 1)
    expected = torch.tensor([-5, 1, 13, 13, -11, -11]) / 24 / (std + EPS)
    torch.testing.assert_close(adv, expected.float(), atol=1e-6, rtol=0)
    torch.testing.assert_close(ret, r)
    # the shorter successful trajectory earns more per round than the longer one
    assert adv[3] > adv[:3].mean()
    # broadcast to tokens with a mask
    mask = torch.tensor([[1, 1, 0]] * 6)
    tok_adv, tok_ret = A.eapo_advantages(r, ["q"] * 6, mask)
    torch.testing.assert_close(tok_adv[:, 0], adv)
    assert (tok_adv[:, 2] == 0).all() and tok_ret[2, 1].item() == 1.0


def test_questions_are_normalized_separately_and_edge_cases() -> None:
    # question a: all rounds failed (all equal) -> 0; question b: a single round-sample -> passes through
    r = torch.tensor([0.0, 0.0, 0.0, 0.81])
    adv, _ = A.eapo_advantages(r, ["a", "a", "a", "b"])
    assert adv[:3].abs().max().item() == 0.0
    assert adv[3].item() == pytest.approx(0.81 / (1 + EPS))


def test_gspo_loss_is_reused_on_round_samples() -> None:
    # EAPO optimizes with GSPO: the existing sequence-level loss applies to round-samples unchanged.
    r = A.eapo_round_rewards(ROUND, NUM, SUCCESS, gamma=0.5)
    mask = torch.ones(6, 4)
    adv, _ = A.eapo_advantages(r, ["q"] * 6, mask)
    lp = torch.zeros(6, 4, requires_grad=True)
    loss, _ = A.gspo_loss(lp, lp.detach(), adv, mask)
    # ratio 1 everywhere: loss = -mean over sequences of the per-token mean advantage = -mean(adv) = 0
    assert loss.item() == pytest.approx(-adv[:, 0].mean().item(), abs=1e-6)


def test_downsample_to_a_multiple_of_the_data_parallel_size() -> None:
    idx = A.downsample_rounds(10, 4, rng=7)
    # floor(10 / 4) * 4 = 8 kept, sorted, distinct, within range
    assert idx.numel() == 8 and idx.tolist() == sorted(set(idx.tolist())) and int(idx.max()) < 10
    assert torch.equal(idx, A.downsample_rounds(10, 4, rng=7))  # reproducible
    assert torch.equal(idx, A.downsample_rounds(10, 4, rng=torch.Generator().manual_seed(7)))
    assert any(not torch.equal(idx, A.downsample_rounds(10, 4, rng=s)) for s in range(8, 16))
    assert A.downsample_rounds(8, 4).tolist() == list(range(8))  # already a multiple: keep all
    assert A.downsample_rounds(3, 4).numel() == 0  # fewer than one per rank
    assert A.downsample_rounds(0, 2).numel() == 0
    with pytest.raises(ValueError):
        A.downsample_rounds(5, 0)
