"""JSON encoding of what crosses the wire between an env server and `RemoteEnv`.

Messages and most of `info` are JSON already. The typed records of `agentgym.records` (`TaskRecord`,
`FormatVerdict`) travel as `{"__record__": NAME, ...fields}` and come back as the same types, so the episode
loop's type checks hold for a remote env exactly as for a local one. NumPy scalars and arrays become numbers and
lists, tuples and sets become lists, `Message` objects become OpenAI dicts; anything else is sent as its `str()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from agentgym.records import FormatVerdict, TaskRecord

RECORD_KEY = "__record__"
_RECORDS: dict[str, type[Any]] = {"TaskRecord": TaskRecord, "FormatVerdict": FormatVerdict}


def encode(value: Any) -> Any:
    """`value` as JSON-ready data (records tagged so that `decode` restores them)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (TaskRecord, FormatVerdict)):
        return {RECORD_KEY: type(value).__name__, **value.to_dict()}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    to_openai = getattr(value, "to_openai", None)
    if callable(to_openai):  # agentgym.messages.Message
        return encode(to_openai())
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # NumPy scalars and arrays
        return encode(tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(dataclasses.asdict(value))
    return str(value)


def decode(value: Any) -> Any:
    """The inverse of `encode` for the tagged records; everything else is returned as it came."""
    if isinstance(value, dict):
        name = value.get(RECORD_KEY)
        if isinstance(name, str) and name in _RECORDS:
            return _RECORDS[name].from_dict({k: v for k, v in value.items() if k != RECORD_KEY})
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value
