"""IGPO (arXiv 2510.14967): information gain, turn-reward assembly, normalization, accumulation, broadcast.

Every expected value is computed by hand in the comments.
"""

from __future__ import annotations

import math

import pytest
import torch
from agentgym.trainers import algorithms as A

EPS = 1e-6
NEG = -math.inf


def _close(got: torch.Tensor, expected, atol: float = 1e-5) -> None:
    torch.testing.assert_close(got.float(), torch.as_tensor(expected, dtype=torch.float32), atol=atol, rtol=0)


# Episode A: 3 turns, answered with token-F1 0.5; p_t = 0.1, 0.4, 0.4, 0.7 after 0..3 turns.
# Episode B: 2 turns, never answered; probes only before turn 0 and turn 1: p = 0.5, 0.2.
LP = torch.log(torch.tensor([[0.1, 0.4, 0.4, 0.7], [0.5, 0.2, 1.0, 1.0]]))
PROBE_MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
TURN_MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])
OUTCOME = torch.tensor([0.5, 1.0])
ANSWERED = torch.tensor([True, False])


def test_information_gain_prob_diff_and_log_prob_diff() -> None:
    gain = A.information_gain_rewards(LP, PROBE_MASK, mode="prob_diff")
    # A: 0.4-0.1 = 0.3, 0.4-0.4 = 0.0, 0.7-0.4 = 0.3;  B: 0.2-0.5 = -0.3, then no probe -> 0, padding -> 0
    _close(gain, [[0.3, 0.0, 0.3], [-0.3, 0.0, 0.0]])
    log_gain = A.information_gain_rewards(LP, PROBE_MASK, mode="log_prob_diff")
    # A: log(0.4/0.1) = log 4, log 1 = 0, log(0.7/0.4) = log 1.75;  B: log(0.2/0.5) = log 0.4
    _close(log_gain, [[math.log(4), 0.0, math.log(1.75)], [math.log(0.4), 0.0, 0.0]])
    with pytest.raises(ValueError):
        A.information_gain_rewards(LP, mode="bogus")


def test_information_gain_ignores_infinite_padding() -> None:
    lp = torch.tensor([[math.log(0.5), NEG, NEG]])
    gain = A.information_gain_rewards(lp, torch.tensor([[1, 0, 0]]), mode="log_prob_diff")
    assert torch.isfinite(gain).all() and (gain == 0).all()  # -inf - -inf would be nan without the mask


def test_turn_rewards_outcome_on_final_turn_and_penalty_when_never_answered() -> None:
    gain = A.information_gain_rewards(LP, PROBE_MASK)
    rewards, outcome_mask = A.igpo_turn_rewards(gain, TURN_MASK, OUTCOME, ANSWERED)
    # A: gains on turns 0, 1, outcome 0.5 replaces turn 2's gain 0.3
    # B: gain -0.3 on turn 0, never answered -> -2 on its last turn (turn 1), padding 0
    _close(rewards, [[0.3, 0.0, 0.5], [-0.3, -2.0, 0.0]])
    assert outcome_mask.tolist() == [[False, False, True], [False, True, False]]


def test_truncated_episode_last_turn_gets_format_penalty_not_its_gain() -> None:
    # cut at the maximum length after two turns: its last turn raised p by 0.4 but gave no answer
    gain = torch.tensor([[0.1, 0.4]])
    rewards, om = A.igpo_turn_rewards(gain, torch.tensor([[1, 1]]), torch.tensor([0.9]), torch.tensor([False]))
    _close(rewards, [[0.1, -2.0]])
    assert om.tolist() == [[False, True]]
    # an episode with no turns at all holds no reward and no outcome
    r0, om0 = A.igpo_turn_rewards(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([1.0]))
    assert (r0 == 0).all() and not om0.any()


def test_joint_normalization_pools_all_turns_of_the_group() -> None:
    rewards = torch.tensor([[0.3, 0.0, 0.5], [-0.3, -2.0, 0.0]])
    got = A.igpo_normalize(rewards, TURN_MASK, ["q", "q"], mode="joint")
    # values 0.3, 0.0, 0.5, -0.3, -2.0: sum -1.5, mean -0.3
    # deviations 0.6, 0.3, 0.8, 0.0, -1.7; squares 0.36 + 0.09 + 0.64 + 0 + 2.89 = 3.98
    std = math.sqrt(3.98 / 4)  # unbiased
    _close(got, [[0.6 / std, 0.3 / std, 0.8 / std], [0.0, -1.7 / std, 0.0]])
    pop = A.igpo_normalize(rewards, TURN_MASK, ["q", "q"], mode="joint", unbiased=False)
    std_pop = math.sqrt(3.98 / 5)  # released code's population std
    _close(pop[0], [0.6 / std_pop, 0.3 / std_pop, 0.8 / std_pop])


def test_separate_normalization_and_full_pipeline_by_hand() -> None:
    gain = A.information_gain_rewards(LP, PROBE_MASK)
    rewards, om = A.igpo_turn_rewards(gain, TURN_MASK, OUTCOME, ANSWERED)
    norm = A.igpo_normalize(rewards, TURN_MASK, ["q", "q"], om, mode="separate")
    # information gains 0.3, 0.0, -0.3: mean 0, unbiased var (0.09 + 0 + 0.09) / 2 = 0.09, std 0.3 -> 1, 0, -1
    # outcomes 0.5, -2: mean -0.75, deviations +-1.25, var 2 * 1.5625 / 1 = 3.125, std 1.76777 -> +-1/sqrt(2)
    s = 1 / math.sqrt(2)
    _close(norm, [[1.0, 0.0, s], [-1.0, -s, 0.0]])
    # discounted accumulation, gamma 0.5:  A: A2 = s, A1 = 0 + 0.5 s, A0 = 1 + 0.5 (0.5 s)
    #                                       B: A1 = -s, A0 = -1 + 0.5 (-s)
    turn_adv = A.igpo_turn_advantages(rewards, TURN_MASK, ["q", "q"], om, norm="separate", gamma=0.5)
    a = [[1 + 0.25 * s, 0.5 * s, s], [-1 - 0.5 * s, -s, 0.0]]
    _close(turn_adv, a)
    # broadcast: A's turn 1 (gain exactly 0) keeps its own value 0.5 s, distinct from turns 0 and 2
    turn_index = torch.tensor([[-1, -1, 0, 0, -1, -1, 1, -1, 2, 2, 2],
                               [-1, 0, -1, 1, 1, -1, -1, -1, -1, -1, -1]])
    loss_mask = (turn_index >= 0).long()
    adv, ret = A.igpo_advantages(rewards, TURN_MASK, turn_index, loss_mask, ["q", "q"], om, norm="separate", gamma=0.5)
    _close(adv[0], [0, 0, a[0][0], a[0][0], 0, 0, a[0][1], 0, a[0][2], a[0][2], a[0][2]])
    _close(adv[1], [0, a[1][0], 0, a[1][1], a[1][1], 0, 0, 0, 0, 0, 0])
    # returns of the raw rewards, gamma 0.5: A: 0.5, 0 + 0.25, 0.3 + 0.125;  B: -2, -0.3 - 1
    _close(ret[0, [2, 6, 8]], [0.425, 0.25, 0.5])
    _close(ret[1, [1, 3]], [-1.3, -2.0])
    with pytest.raises(ValueError):
        A.igpo_normalize(rewards, TURN_MASK, ["q", "q"], mode="separate")  # needs the outcome mask


def test_zero_gain_turn_does_not_merge_with_its_neighbour() -> None:
    # One episode, rewards 1, 0, -1 (the middle turn's gain is exactly 0). Joint normalization: mean 0,
    # unbiased std sqrt((1 + 0 + 1) / 2) = 1, so the normalized middle reward is exactly 0 as well - the
    # case where inferring turn ends from non-zero rewards would fold turn 1 into turn 2.
    rewards = torch.tensor([[1.0, 0.0, -1.0]])
    mask = torch.ones(1, 3)
    turn_index = torch.tensor([[-1, 0, 0, -1, 1, 1, -1, 2, 2]])
    adv, _ = A.igpo_advantages(rewards, mask, turn_index, (turn_index >= 0).long(), ["q"], gamma=0.5)
    # A2 = -1, A1 = 0 + 0.5 * -1 = -0.5, A0 = 1 + 0.5 * 0 + 0.25 * -1 = 0.75  (up to the 1 / (1 + eps))
    k = 1 / (1 + EPS)
    _close(adv, [[0, 0.75 * k, 0.75 * k, 0, -0.5 * k, -0.5 * k, 0, -k, -k]])
    assert adv[0, 4].item() != pytest.approx(adv[0, 7].item())  # turn 1 is not given turn 2's value


def test_group_of_one_and_all_equal_rewards() -> None:
    # a group of one episode with one turn: nothing to compare with -> 0 (released code); "pass" keeps it
    r, m = torch.tensor([[0.8]]), torch.ones(1, 1)
    assert A.igpo_normalize(r, m, ["solo"]).item() == 0.0
    assert A.igpo_normalize(r, m, ["solo"], singleton="pass").item() == pytest.approx(0.8 / (1 + EPS))
    # all four episodes answered with the same F1: std 0 -> (1 - 1) / (0 + eps) = 0 everywhere
    same = torch.ones(4, 1)
    adv, _ = A.igpo_advantages(same, torch.ones(4, 1), torch.zeros(4, 3, dtype=torch.long), torch.ones(4, 3),
                               ["g"] * 4)
    assert adv.abs().max().item() < 1e-6
    # groups are normalized separately: group b's values do not shift group a's
    two = A.igpo_normalize(torch.tensor([[1.0], [0.0], [5.0], [7.0]]), torch.ones(4, 1), ["a", "a", "b", "b"])
    s = math.sqrt(0.5)  # each pair: deviations +-0.5 (a) or +-1 (b); std sqrt(0.5) and sqrt(2)
    _close(two[:, 0], [0.5 / s, -0.5 / s, -1 / math.sqrt(2), 1 / math.sqrt(2)])


def test_outcome_score_f1_em_and_format_failure() -> None:
    assert A.igpo_outcome_score("The Eiffel Tower", ["Eiffel Tower"]) == 1.0  # article dropped
    # "eiffel" vs "eiffel tower": precision 1/1, recall 1/2 -> F1 = 2 * 0.5 / 1.5 = 2/3
    assert A.igpo_outcome_score("Eiffel", "Eiffel Tower") == pytest.approx(2 / 3)
    assert A.igpo_outcome_score("Eiffel", ["Eiffel Tower", "Eiffel"], metric="em") == 1.0
    assert A.igpo_outcome_score(None, ["x"]) == -2.0  # never answered
    assert A.igpo_outcome_score("x", ["x"], format_ok=False) == -2.0
    with pytest.raises(ValueError):
        A.igpo_outcome_score("x", ["x"], metric="bleu")
