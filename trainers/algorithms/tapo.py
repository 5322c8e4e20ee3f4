"""TAPO's reward: tool-augmented policy optimization (Wu et al. 2025, arXiv 2510.07038).

The policy writes a sequence of tag blocks - `<think>`, tool calls `<search>` / `<code>`, the tool output
`<response>` that the environment inserts after each call, and a final `<answer>`. The reward is -1 for
any response that is not such a sequence; otherwise it scores the answer by task kind:

- ``math``: exact match, compared as numbers (or symbolically) by `agentgym.envs.code.answers`;
- ``fact``: 1 when the gold answer appears in the prediction (whole words, after SQuAD normalization),
  else edit-distance partial credit `1 - d / max(len)` when that ratio `d / max(len)` is below 0.5;
- ``calc``: 1 when the relative error `|pred - gold| / |gold|` is within `tolerance`.

An optional per-call tool cost (off by default, as in the released code) is subtracted from well-formed
responses. DAPO's soft overlong penalty is `filters.overlong_penalty`; `policy_overlong_penalty` applies it
to the count of the policy's own tokens (tool output is not the policy's length).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from agentgym.trainers.algorithms.filters import overlong_penalty

from agentgym.protocols.blocks import Block, scan_blocks
from agentgym.protocols.tapo import well_formed_response

TAPO_TOOLS = ("search", "code")
TAPO_KINDS = ("math", "fact", "calc")
MALFORMED_REWARD = -1.0


def parse_tag_blocks(text: str, tools: Sequence[str] = TAPO_TOOLS) -> list[Block] | None:
    """The tag blocks of a well-formed TAPO response, or None when it is malformed.

    Well-formed means, precisely:

    1. apart from whitespace, the text is a concatenation of blocks `<tag>body</tag>` (no text outside
       blocks, no tag left unclosed);
    2. each `tag` is `think`, `response`, `answer` or one of `tools` (lowercase, no attributes);
    3. no block's body holds a protocol marker (`<think>`, `</code>`, ...): no nesting;
    4. every tool block is immediately followed by one `<response>` block, and a `<response>` block only
       ever follows a tool block (the environment inserts one output per call; a `<response>` the policy
       wrote itself is a hallucinated tool result);
    5. the response ends with its only `<answer>` block.

    Bodies may be empty or span lines; other angle brackets ("a < b", "<b>") are plain text. `tools`
    narrows the allowed tool tags (a `<code>` block in a search-only task is malformed). The check is
    `agentgym.protocols.tapo.well_formed_response`, the same one the TAPO environment wrapper reports as
    `info["format_ok"]`, so the reward's -1 and the env's format flag always agree.
    """
    if not well_formed_response(text, tool_tags=tuple(tools)):
        return None
    return scan_blocks(text).blocks


def is_well_formed(text: str, tools: Sequence[str] = TAPO_TOOLS) -> bool:
    """Whether `text` is a well-formed TAPO response (see `parse_tag_blocks` for the exact rules)."""
    return well_formed_response(text, tool_tags=tuple(tools))


def extract_answer(text: str, tools: Sequence[str] = TAPO_TOOLS) -> str | None:
    """The stripped body of the `<answer>` block of a well-formed response, else None."""
    blocks = parse_tag_blocks(text, tools)
    return blocks[-1].body.strip() if blocks else None


def count_tool_calls(text: str, tools: Sequence[str] = TAPO_TOOLS) -> int:
    """Number of tool blocks in a well-formed response (0 when malformed)."""
    blocks = parse_tag_blocks(text, tools) or []
    return sum(b.tag in tools for b in blocks)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of characters)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def fact_score(prediction: str, gold: str, max_edit_ratio: float = 0.5) -> float:
    """1 if the normalized gold answer occurs in the prediction as whole words, else edit-distance credit.

    Both sides are SQuAD-normalized (lowercase, no punctuation or articles). Partial credit is
    `1 - d / max(len)` when the character edit ratio `d / max(len)` is below `max_edit_ratio` (0.5 in the
    released code), else 0. Whole-word containment (the released code uses a plain substring) keeps
    "paris" from matching "comparison".
    """
    from agentgym.envs.search.metrics import normalize_answer  # lazy: keeps the algorithms import light

    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if not ref or not pred:
        return float(pred == ref)
    if f" {ref} " in f" {pred} ":
        return 1.0
    ratio = edit_distance(pred, ref) / max(len(pred), len(ref))
    return 1.0 - ratio if ratio < max_edit_ratio else 0.0


def calc_score(prediction: str, gold: str, tolerance: float = 0.05) -> float:
    """1 when the prediction's final number is within relative error `tolerance` of the gold number.

    `|pred - gold| / |gold| <= tolerance`; for a gold of 0 the absolute error is used. Numbers are read
    with `agentgym.envs.code.answers.parse_number` ("1,080.5", "$3", "3/4", `\\boxed{..}`).
    """
    from agentgym.envs.code.answers import parse_number

    p, g = parse_number(prediction), parse_number(gold)
    if p is None or g is None:
        return 0.0
    err = abs(float(p) - float(g))
    scale = abs(float(g))
    return float(err <= tolerance * scale if scale > 0 else err <= tolerance)


def tapo_reward(
    response: str,
    gold: str | Iterable[str],
    kind: str = "math",
    tolerance: float = 0.05,
    tool_cost: float = 0.0,
    tools: Sequence[str] = TAPO_TOOLS,
) -> float:
    """TAPO's reward for one full response (all turns, with the inserted `<response>` tool outputs).

    Args:
        response: the response text.
        gold: the gold answer, or several aliases (the best-scoring alias counts).
        kind: ``math`` (exact, numeric/symbolic), ``fact`` (containment or edit-distance credit), ``calc``
            (relative error within `tolerance`).
        tolerance: relative tolerance of ``calc`` (5% as in the released code's numeric tasks).
        tool_cost: subtracted once per tool call from well-formed responses (0 = off, the default). It
            is not applied to malformed responses, which stay at -1.
        tools: the tool tags allowed in this task.

    Returns:
        -1 for a malformed response; otherwise the score in [0, 1] minus the tool cost.
    """
    if kind not in TAPO_KINDS:
        raise ValueError(f"unknown TAPO task kind {kind!r}; choose from {TAPO_KINDS}")
    blocks = parse_tag_blocks(response, tools)
    if blocks is None:
        return MALFORMED_REWARD
    answer = blocks[-1].body.strip()
    aliases = [gold] if isinstance(gold, str) else [str(g) for g in gold]
    if kind == "math":
        from agentgym.envs.code.answers import answers_match

        score = float(any(answers_match(answer, g) for g in aliases))
    elif kind == "fact":
        score = max((fact_score(answer, g) for g in aliases), default=0.0)
    else:
        score = max((calc_score(answer, g, tolerance) for g in aliases), default=0.0)
    calls = sum(b.tag in tools for b in blocks)
    return score - tool_cost * calls


def policy_overlong_penalty(
    loss_mask: torch.Tensor, max_length: int, buffer_length: int, penalty: float = 1.0
) -> torch.Tensor:
    """DAPO's soft overlong penalty `(B,)` on the number of policy tokens of each row.

    Tool output and template tokens (loss mask 0) do not count toward the length, so a long search result
    cannot push a response into the penalty. Delegates to `filters.overlong_penalty`.
    """
    return overlong_penalty(loss_mask.sum(dim=-1), max_length, buffer_length, penalty)
