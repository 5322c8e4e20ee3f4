"""TAPO's reward (arXiv 2510.07038): the tag protocol, -1 for malformed responses, per-kind scoring."""

from __future__ import annotations

import pytest
import torch
from agentgym.trainers import algorithms as A

GOOD = [
    "<answer>42</answer>",
    "<think>easy</think><answer>42</answer>",
    "  <think>a</think>\n\n<search>capital of France</search>\n<response>Paris is ...</response>\n"
    "<think>so</think>\n<answer>Paris</answer>\n",
    "<code>print(6*7)</code><response>42</response><code>print(1)</code><response>1</response><answer>42</answer>",
    "<think>a < b and b > c; <b>bold</b> is plain text</think><answer>x</answer>",
    "<think>\nline one\nline two\n</think><answer></answer>",  # empty answer is well-formed (scores 0)
]

BAD = {
    "empty": "",
    "only whitespace": "   \n",
    "missing answer": "<think>hmm</think>",
    "unclosed think": "<think>hmm<answer>42</answer>",
    "unclosed answer": "<think>a</think><answer>42",
    "nested": "<think><search>q</search><response>r</response></think><answer>42</answer>",
    "same tag nested": "<think>a<think>b</think></think><answer>42</answer>",
    "closed by another tag": "<think>a</search><answer>42</answer>",
    "stray closing tag": "</think><answer>42</answer>",
    "text before": "So: <answer>42</answer>",
    "text between": "<think>a</think> therefore <answer>42</answer>",
    "text after": "<answer>42</answer> Done.",
    "two answers": "<answer>41</answer><answer>42</answer>",
    "answer not last": "<answer>42</answer><think>check</think>",
    "unknown tag": "<plan>a</plan><answer>42</answer>",
    "uppercase tag": "<Answer>42</Answer>",
    "attribute": '<answer id="1">42</answer>',
    "response without a call": "<response>42</response><answer>42</answer>",
    "call without a response": "<search>q</search><answer>42</answer>",
    "response after think": "<search>q</search><think>wait</think><response>r</response><answer>42</answer>",
    "two responses for one call": "<code>1</code><response>1</response><response>2</response><answer>1</answer>",
}


@pytest.mark.parametrize("text", GOOD)
def test_well_formed(text: str) -> None:
    assert A.is_well_formed(text)


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed(name: str) -> None:
    assert not A.is_well_formed(BAD[name])
    assert A.tapo_reward(BAD[name], "42") == -1.0


def test_blocks_tool_restriction_and_answer_extraction() -> None:
    text = GOOD[2]
    assert [b.tag for b in A.parse_tag_blocks(text)] == ["think", "search", "response", "think", "answer"]
    assert A.extract_answer(text) == "Paris"
    assert A.count_tool_calls(GOOD[3]) == 2
    assert not A.is_well_formed(GOOD[3], tools=("search",))  # <code> not allowed in a search-only task
    assert A.extract_answer(BAD["two answers"]) is None and A.count_tool_calls(BAD["nested"]) == 0


def test_math_reward_exact_numeric_match() -> None:
    assert A.tapo_reward("<answer>$1,080</answer>", "1080") == 1.0
    assert A.tapo_reward("<think>6*7</think><answer>42.0</answer>", "42") == 1.0
    assert A.tapo_reward("<answer>43</answer>", "42") == 0.0
    assert A.tapo_reward("<answer>42</answer>", ["41", "42"]) == 1.0  # any alias


def test_fact_reward_containment_and_edit_distance_credit() -> None:
    assert A.tapo_reward("<answer>Paris, France</answer>", "Paris", kind="fact") == 1.0  # whole-word containment
    # "pariss" vs "paris": 1 edit over max length 6 -> ratio 1/6 < 0.5 -> credit 1 - 1/6
    assert A.tapo_reward("<answer>Pariss</answer>", "Paris", kind="fact") == pytest.approx(5 / 6)
    # "london" vs "paris": 6 edits / 6 -> ratio 1 >= 0.5 -> 0
    assert A.tapo_reward("<answer>London</answer>", "Paris", kind="fact") == 0.0
    # "comparison" contains "paris" only inside a word; 5+ edits over 10 -> ratio >= 0.5 -> 0
    assert A.tapo_reward("<answer>comparison</answer>", "Paris", kind="fact") == 0.0
    assert A.tapo_reward("<answer>The City of Light</answer>", ["Paris", "City of Light"], kind="fact") == 1.0
    assert A.edit_distance("kitten", "sitting") == 3 and A.edit_distance("", "abc") == 3


def test_calc_reward_relative_tolerance() -> None:
    # |101 - 100| / 100 = 1% <= 5%  -> 1;  |106 - 100| / 100 = 6% > 5% -> 0
    assert A.tapo_reward("<answer>101</answer>", "100", kind="calc") == 1.0
    assert A.tapo_reward("<answer>106</answer>", "100", kind="calc") == 0.0
    assert A.tapo_reward("<answer>106</answer>", "100", kind="calc", tolerance=0.1) == 1.0
    # a gold of 0 uses the absolute error: |0.01 - 0| = 0.01 <= 0.05
    assert A.tapo_reward("<answer>0.01</answer>", "0", kind="calc") == 1.0
    assert A.tapo_reward("<answer>about two</answer>", "2", kind="calc") == 0.0  # no number
    with pytest.raises(ValueError):
        A.tapo_reward("<answer>1</answer>", "1", kind="code")


def test_tool_cost_is_off_by_default_and_never_touches_malformed() -> None:
    two_calls = GOOD[3]  # correct answer 42 after two code calls
    assert A.tapo_reward(two_calls, "42") == 1.0
    assert A.tapo_reward(two_calls, "42", tool_cost=0.1) == pytest.approx(0.8)  # 1 - 2 * 0.1
    assert A.tapo_reward(BAD["call without a response"], "42", tool_cost=0.1) == -1.0


def test_overlong_penalty_counts_policy_tokens_only() -> None:
    # row 0: 12 policy tokens + 30 tool tokens; row 1: 14 policy tokens. max 16, buffer 4:
    # penalty starts after 12 tokens: row 0 -> 0; row 1 -> -(14 - 12) / 4 = -0.5
    mask = torch.zeros(2, 44, dtype=torch.long)
    mask[0, :6] = 1
    mask[0, 36:42] = 1
    mask[1, :14] = 1
    torch.testing.assert_close(A.policy_overlong_penalty(mask, 16, 4), torch.tensor([0.0, -0.5]))
