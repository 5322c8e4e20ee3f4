"""The two kinds of policy-internalization data and their files: continued-pretraining text (`CPTRecord`)
and SFT conversations (`SFTRecord`), written as JSONL or turned into a Hugging Face `datasets.Dataset`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CPT_KINDS", "CPTRecord", "SFTRecord", "read_jsonl", "to_dataset", "write_jsonl"]

CPT_KINDS = ("rule", "paraphrase", "qa", "scenario")


@dataclass
class CPTRecord:
    """One continued-pretraining text about a policy.

    Attributes:
        text: the text to train on.
        category: the rule category it teaches ("factual", "behavioral", "conditional").
        kind: "rule" (the rule as written), "paraphrase" (another surface form of it), "qa" (a question
            and its answer) or "scenario" (a worked task: situation, the rules that apply, the actions).
        rule_id: the rule it is mainly about (None for texts about no single rule, such as a section's facts).
        domain: the domain's name.
        rules: every rule id the text speaks about (a scenario names several).
        task_id: the task a scenario is worked from.
    """

    text: str
    category: str
    kind: str
    rule_id: str | None
    domain: str
    rules: list[str] = field(default_factory=list)
    task_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in CPT_KINDS:
            raise ValueError(f"kind must be one of {CPT_KINDS}, got {self.kind!r}")


@dataclass
class SFTRecord:
    """One successful conversation of a policy-following agent, as chat messages.

    Attributes:
        messages: `{"role", "content"}` dicts: the system prompt (the policy replaced by a short
            instruction when `policy_dropped`), the user's and tools' messages, and the agent's turns with
            their reasoning.
        task_id: the task it plays.
        domain: the domain's name.
        reward: the episode's reward.
        num_turns: assistant turns.
        categories: the rule categories the task exercises.
        policy_dropped: whether the policy document was removed from the system prompt.
    """

    messages: list[dict[str, str]]
    task_id: str
    domain: str
    reward: float
    num_turns: int
    categories: list[str] = field(default_factory=list)
    policy_dropped: bool = True


Record = CPTRecord | SFTRecord


def write_jsonl(records: Iterable[Record], path: str | Path) -> Path:
    """Write records one JSON object a line (parent folders are made); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(dataclasses.asdict(record), ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: str | Path, kind: type[CPTRecord] | type[SFTRecord]) -> list[Any]:
    """Read records written by `write_jsonl` back as `kind` (ValueError naming the file and line)."""
    path = Path(path)
    names = {f.name for f in dataclasses.fields(kind)}
    out = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(kind(**{k: v for k, v in row.items() if k in names}))
            except (json.JSONDecodeError, TypeError, ValueError) as e:
                raise ValueError(f"{path}:{number}: not a {kind.__name__}: {e}") from None
    return out


def to_dataset(records: Sequence[Record]) -> Any:
    """A `datasets.Dataset` with one column per record field (`text` for CPT, `messages` for SFT: the
    columns TRL's trainers read)."""
    from datasets import Dataset

    if not records:
        return Dataset.from_dict({})
    kinds = {type(r) for r in records}
    if len(kinds) > 1:
        raise TypeError("to_dataset takes records of one kind (all CPTRecord or all SFTRecord)")
    columns: dict[str, list[Any]] = {f.name: [] for f in dataclasses.fields(records[0])}
    for record in records:
        for name in columns:
            columns[name].append(getattr(record, name))
    return Dataset.from_dict(columns)
