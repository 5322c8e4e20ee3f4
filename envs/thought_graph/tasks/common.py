"""Helpers shared by the thought-graph task families: tolerant reading of lists and dicts out of model text,
and splitting a sequence into contiguous near-equal chunks."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = [
    "answer_region",
    "as_int",
    "chunk",
    "find_dicts",
    "find_lists",
    "int_list",
    "parse_answer",
    "parse_int_list",
    "parse_part_lists",
    "read_int_list",
    "shorten",
]

T = TypeVar("T")
R = TypeVar("R")

# innermost bracketed / braced groups: model replies rarely nest, and the innermost group is the data
_LIST_RE = re.compile(r"\[[^\[\]]*\]")
_DICT_RE = re.compile(r"\{[^{}]*\}")
# "Output:", "Answer:", "Final answer:" ... the label after which a model writes its answer
_LABEL_RE = re.compile(r"(?:final\s+answer|answer|output|result)\s*:", re.IGNORECASE)
_INT_RE = re.compile(r"^[+-]?\d+$")


def chunk(items: Sequence[T], parts: int) -> list[list[T]]:
    """`items` cut into `parts` contiguous chunks whose lengths differ by at most one (longer ones first).

    `parts` is clamped to [1, len(items)] so no chunk is empty (an empty sequence gives one empty chunk)."""
    n = len(items)
    parts = max(1, min(int(parts), n)) if n else 1
    base, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        end = start + base + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def answer_region(text: str) -> str:
    """The part of a reply after its last answer label ("Output:", "Answer:" ...) when that part is not
    blank, else the whole reply."""
    matches = list(_LABEL_RE.finditer(text))
    if matches:
        tail = text[matches[-1].end():]
        if tail.strip():
            return tail
    return text


def _literal(snippet: str) -> Any:
    """A JSON or Python literal, or None when `snippet` is neither."""
    try:
        return json.loads(snippet)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(snippet)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _bare_items(inner: str) -> list[str]:
    """The comma-separated items of a list written without quotes (`Canada, United States`)."""
    inner = inner.strip()
    if not inner:
        return []
    return [item.strip().strip("'\"").strip() for item in inner.split(",")]


def find_lists(text: str) -> list[list[Any]]:
    """Every flat bracketed list in `text`, in order, read as a JSON/Python literal when possible and else as
    bare comma-separated words (integers converted)."""
    out: list[list[Any]] = []
    for match in _LIST_RE.finditer(text):
        value = _literal(match.group(0))
        if isinstance(value, list):
            out.append(value)
            continue
        items: list[Any] = []
        for item in _bare_items(match.group(0)[1:-1]):
            items.append(int(item) if _INT_RE.match(item) else item)
        out.append(items)
    return out


def as_int(value: Any) -> int | None:
    """`value` as an int when it is one (bools, floats with a fraction and other junk are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def int_list(value: Any) -> list[int] | None:
    """`value` as a list of ints, or None when it is not a list or holds anything else."""
    if not isinstance(value, list | tuple):
        return None
    out = [as_int(v) for v in value]
    if any(v is None for v in out):
        return None
    return [int(v) for v in out if v is not None]


def parse_answer(text: str, find: Callable[[str], list[Any]], convert: Callable[[Any], R | None]) -> R | None:
    """The answer in a model's reply: the first candidate (`find`) that `convert` accepts after the last answer
    label, else the last accepted candidate anywhere; None when there is none."""
    if not isinstance(text, str):
        return None
    region = answer_region(text)
    if region is not text:
        for candidate in find(region):
            parsed = convert(candidate)
            if parsed is not None:
                return parsed
    for candidate in reversed(find(text)):
        parsed = convert(candidate)
        if parsed is not None:
            return parsed
    return None


def parse_int_list(text: str) -> list[int] | None:
    """The answer list of ints in a model's reply (see `parse_answer`)."""
    return parse_answer(text, find_lists, int_list)


def parse_part_lists(text: str, expected: int) -> list[list[int]] | None:
    """`expected` lists of ints from a reply to a decomposition prompt (one list per line, or a JSON object
    whose values are lists); when the reply has more lists (an echoed input), the last `expected` are taken."""
    if not isinstance(text, str) or expected < 1:
        return None
    lists: list[list[int]] = []
    for obj in find_dicts(text, allow_nested=True):
        values = [int_list(v) for v in obj.values()]
        if values and all(v is not None for v in values):
            lists = [v for v in values if v is not None]
    if len(lists) != expected:
        lists = [v for v in (int_list(c) for c in find_lists(text)) if v is not None]
    if len(lists) < expected:
        return None
    return lists[-expected:]


def find_dicts(text: str, allow_nested: bool = False) -> list[dict[Any, Any]]:
    """Every dict written in `text`, in order: flat `{...}` groups read as JSON or Python literals, falling
    back to `key: value` pairs; with `allow_nested`, also a whole-reply JSON object whose values are lists."""
    out: list[dict[Any, Any]] = []
    if allow_nested:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            value = _literal(text[start:end + 1])
            if isinstance(value, dict):
                out.append(value)
    for match in _DICT_RE.finditer(text):
        value = _literal(match.group(0))
        if isinstance(value, dict):
            out.append(value)
            continue
        pairs = re.findall(r"[\"']?([^\"'{}:,\n]+?)[\"']?\s*:\s*([+-]?\d+)", match.group(0)[1:-1])
        if pairs:
            out.append({key.strip(): int(val) for key, val in pairs})
    return out


def read_int_list(cell: str) -> list[int]:
    """A list of ints stored as a Python-list string in a CSV cell (`"[2, 9, 0]"`); ValueError otherwise."""
    lists = find_lists(cell)
    parsed = int_list(lists[0]) if len(lists) == 1 else None
    if parsed is None:
        raise ValueError(f"not a list of integers: {cell[:80]!r}")
    return parsed
