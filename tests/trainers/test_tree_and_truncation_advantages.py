"""TreePO's tree advantage and T-PPO's Extended GAE on hand-computed cases."""

from __future__ import annotations

import pytest
import torch
from agentgym.trainers.algorithms.advantages import gae_advantages
from agentgym.trainers.algorithms.treepo import tree_advantages, tree_token_advantages

# task T, two first segments a and b, two leaves under each; only a1 succeeds
PATHS = [("T", "a", "a1"), ("T", "a", "a2"), ("T", "b", "b1"), ("T", "b", "b2")]
REWARDS = torch.tensor([1.0, 0.0, 0.0, 0.0])


def test_tree_advantage_weights_each_subgroup_by_its_size() -> None:
    # root mean 0.25 (4 leaves), a's mean 0.5 (2), b's mean 0 (2)
    # a1: (0.75*4 + 0.5*2)/6; a2: (-0.25*4 - 0.5*2)/6; b1, b2: (-0.25*4 + 0*2)/6
    expected = torch.tensor([4 / 6, -2 / 6, -1 / 6, -1 / 6])
    assert torch.allclose(tree_advantages(REWARDS, PATHS), expected)


def test_tree_advantage_mean_weighting_and_constant_subgroups() -> None:
    mean = tree_advantages(REWARDS, PATHS, weighting="mean")
    assert torch.allclose(mean, torch.tensor([(0.75 + 0.5) / 2, (-0.25 - 0.5) / 2, -0.125, -0.125]))
    # b's leaves all failed: without that subgroup they keep only the root's comparison
    skip = tree_advantages(REWARDS, PATHS, skip_constant=True)
    assert torch.allclose(skip, torch.tensor([4 / 6, -2 / 6, -0.25, -0.25]))


def test_tree_advantage_ignores_singleton_subgroups_and_reduces_to_grpo_without_branching() -> None:
    # a leaf that ended after its first segment shares nothing below the root with anyone
    paths = [("T", "a", "a1"), ("T", "a", "a2"), ("T", "c")]
    adv = tree_advantages(torch.tensor([1.0, 0.0, 1.0]), paths)
    root_mean = 2 / 3
    assert torch.allclose(adv, torch.tensor([((1 - root_mean) * 3 + 0.5 * 2) / 5, ((0 - root_mean) * 3 - 0.5 * 2) / 5,
                                             1 - root_mean]), atol=1e-6)
    # no branching below the root: every leaf is compared with its task's mean only (GRPO without the std)
    flat = tree_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), [("T", i) for i in range(4)])
    assert torch.allclose(flat, torch.tensor([0.5, -0.5, -0.5, 0.5]))
    # two tasks in one batch never share a subgroup
    two = tree_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), [("T", 0), ("T", 1), ("U", 0), ("U", 1)])
    assert torch.allclose(two, torch.tensor([0.5, -0.5, 0.0, 0.0]))


def test_tree_token_advantages_are_whitened_over_policy_tokens() -> None:
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 1]])
    adv = tree_token_advantages(REWARDS, PATHS, mask)
    on = adv[mask.bool()]
    assert abs(float(on.mean())) < 1e-6 and abs(float(on.std()) - 1.0) < 1e-4
    assert (adv[~mask.bool()] == 0).all()
    assert adv[0, 0] > 0 > adv[1, 0] and torch.isclose(adv[2, 0], adv[3, 1])


def test_tree_advantage_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="weighting"):
        tree_advantages(REWARDS, PATHS, weighting="max")
    with pytest.raises(ValueError, match="paths"):
        tree_advantages(REWARDS, PATHS[:3])
    with pytest.raises(ValueError, match="root"):
        tree_advantages(torch.tensor([1.0]), [()])


def test_extended_gae_bootstraps_a_truncated_response_with_its_last_value() -> None:
    # two rows of three policy tokens, no reward yet; row 1 was cut by its window, row 0 finished
    values = torch.tensor([[0.2, 0.4, 0.6], [0.2, 0.4, 0.6]])
    rewards = torch.zeros(2, 3)
    mask = torch.ones(2, 3)
    plain, _ = gae_advantages(rewards, values, mask, gamma=1.0, lam=1.0, whiten=False)
    ext, returns = gae_advantages(rewards, values, mask, gamma=1.0, lam=1.0, whiten=False,
                                  truncated=torch.tensor([False, True]))
    # finished: A_t = 0 - V(s_t); truncated: V(s_3) := V(s_2) = 0.6, so A_t = 0.6 - V(s_t)
    assert torch.allclose(ext[0], plain[0]) and torch.allclose(ext[0], -values[0])
    assert torch.allclose(ext[1], torch.tensor([0.4, 0.2, 0.0]))
    assert torch.allclose(returns[1], torch.full((3,), 0.6))


def test_extended_gae_with_discount_and_env_tokens() -> None:
    # the last policy token sits before an env span: the bootstrap value is that token's, not the pad's
    values = torch.tensor([[1.0, 2.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 0, 0]])
    gamma, lam = 0.5, 0.5
    ext, _ = gae_advantages(torch.zeros(1, 4), values, mask, gamma=gamma, lam=lam, whiten=False,
                            truncated=torch.tensor([True]))
    d1 = 0 + gamma * 2.0 - 2.0          # delta at the last token: gamma * V(s_l) - V(s_{l-1}), V(s_l) := 2
    d0 = 0 + gamma * 2.0 - 1.0
    assert torch.allclose(ext[0, :2], torch.tensor([d0 + gamma * lam * d1, d1]))
    # a row with no policy token at all is left alone
    empty, _ = gae_advantages(torch.zeros(1, 2), torch.ones(1, 2), torch.zeros(1, 2), whiten=False,
                              truncated=torch.tensor([True]))
    assert (empty == 0).all()
