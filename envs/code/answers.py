"""Comparing a model's final answer with a gold number: numerically, not as strings."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_BOXED = re.compile(r"\\boxed\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def gsm8k_gold(answer_field: str) -> str:
    """The number after `####` in a GSM8K answer, without thousands separators."""
    return answer_field.split("####")[-1].strip().replace(",", "")


def parse_number(text: Any) -> Fraction | None:
    """The final number in `text` as an exact fraction ("$1,080.50", "3/4", "72." ...), or None."""
    if text is None:
        return None
    s = str(text)
    boxed = _BOXED.findall(s)
    if boxed:
        s = boxed[-1]
    s = s.replace(",", "").replace("$", "")
    found = _NUMBER.findall(s)
    if not found:
        return None
    try:
        return Fraction(found[-1])
    except (ValueError, ZeroDivisionError):
        return None


def _symbolic_match(pred: str, gold: str) -> bool:
    try:
        from math_verify import parse, verify
    except ImportError:
        return False
    try:
        return bool(verify(parse(f"${gold}$", parsing_timeout=None), parse(pred, parsing_timeout=None),
                           timeout_seconds=None))
    except Exception:
        return False


def answers_match(pred: Any, gold: Any, rel_tol: float = 1e-6) -> bool:
    """True when `pred` states the same number as `gold`.

    A plain number in the prediction is compared exactly (or within `rel_tol` for decimals); when the
    prediction has no plain final number (`\\frac{3}{4}`, `sqrt(2)`), `math-verify` compares the two
    expressions symbolically.
    """
    if pred is None or gold is None:
        return False
    g = parse_number(gold)
    text = str(pred).strip()
    if not text:
        return False
    p = parse_number(text)
    if g is not None and p is not None:
        if p == g:
            return True
        if abs(float(p) - float(g)) <= rel_tol * max(1.0, abs(float(g))):
            return True
        if not re.search(r"\\frac|sqrt|\\sqrt|\^|pi", text):
            return False
    return _symbolic_match(text, str(gold))
