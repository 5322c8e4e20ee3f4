"""Task datasets: ids, splits, reproducible sampling, and generated (unlimited) task families."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Task:
    """One problem an episode is about.

    Attributes:
        id: stable identifier, unique within the dataset.
        prompt: the user message that opens the episode.
        answer: the gold answer (never shown to the agent).
        split: "train", "test", ...
        metadata: anything else the env or its grader needs (hidden tests, gold documents, ...).
    """

    id: str
    prompt: str
    answer: Any = None
    split: str = "test"
    metadata: dict[str, Any] = field(default_factory=dict)


class TaskDataset:
    """A fixed list of tasks with ids and splits."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._tasks: list[Task] = list(tasks)
        self._by_id: dict[str, Task] = {}
        for t in self._tasks:
            if t.id in self._by_id:
                raise ValueError(f"duplicate task id {t.id!r}")
            self._by_id[t.id] = t

    @classmethod
    def from_jsonl(
        cls, path: str | Path, to_task: Callable[[dict[str, Any], int], Task], split: str = "test"
    ) -> TaskDataset:
        """Read one JSON object per line and convert each with `to_task(row, line_index)`."""
        tasks = []
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if line.strip():
                    task = to_task(json.loads(line), i)
                    task.split = task.split or split
                    tasks.append(task)
        return cls(tasks)

    @property
    def splits(self) -> list[str]:
        return sorted({t.split for t in self._tasks})

    def ids(self, split: str | None = None) -> list[str]:
        """Task ids, in dataset order, optionally of one split."""
        return [t.id for t in self._tasks if split is None or t.split == split]

    def get(self, task_id: str) -> Task:
        try:
            return self._by_id[task_id]
        except KeyError:
            raise KeyError(f"unknown task id {task_id!r}") from None

    def size(self, split: str | None = None) -> int:
        return len(self.ids(split))

    def sample(self, rng: np.random.Generator, split: str | None = None) -> Task:
        """Pick a task with `rng` (reproducible for a seeded generator)."""
        ids = self.ids(split) or self.ids()
        if not ids:
            raise ValueError("the task dataset is empty")
        return self._by_id[ids[int(rng.integers(len(ids)))]]

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks)

    def __getitem__(self, index: int) -> Task:
        return self._tasks[index]


def _seed_for(split: str, index: int, salt: str) -> int:
    digest = hashlib.blake2b(f"{salt}:{split}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class _ComputedIndexing:
    """Length, iteration and indexing through `size`/`ids`/`get`, for datasets that make tasks on demand."""

    def __len__(self: TaskDataset) -> int:
        return self.size()

    def __iter__(self: TaskDataset) -> Iterator[Task]:
        return (self.get(i) for i in self.ids())

    def __getitem__(self: TaskDataset, index: int) -> Task:
        return self.get(self.ids()[index])


class GeneratedTaskDataset(_ComputedIndexing, TaskDataset):
    """An unlimited family of tasks made by `generate(rng, task_id, split)`.

    Task `"{split}-{i}"` is always the same task (its generator is seeded from the split, the index and
    `salt`), so train and test never overlap and any id can be regenerated. `sizes` gives the nominal
    number of tasks per split for iteration and evaluation; sampling draws from that range.
    """

    def __init__(
        self,
        generate: Callable[[np.random.Generator, str, str], Task],
        sizes: dict[str, int] | None = None,
        salt: str = "",
    ) -> None:
        self._generate = generate
        self._sizes = dict(sizes or {"train": 100_000, "test": 1_000})
        self._salt = salt
        self._cache: dict[str, Task] = {}
        self._tasks = []
        self._by_id = {}

    @property
    def splits(self) -> list[str]:
        return sorted(self._sizes)

    def ids(self, split: str | None = None) -> list[str]:
        splits = [split] if split is not None else self.splits
        return [f"{s}-{i}" for s in splits if s in self._sizes for i in range(self._sizes[s])]

    def size(self, split: str | None = None) -> int:
        if split is None:
            return sum(self._sizes.values())
        return self._sizes.get(split, 0)

    def get(self, task_id: str) -> Task:
        task = self._cache.get(task_id)
        if task is not None:
            return task
        split, _, idx = task_id.rpartition("-")
        if split not in self._sizes or not idx.isdigit():
            raise KeyError(f"unknown task id {task_id!r}; generated ids look like 'test-0' (splits: {self.splits})")
        task = self._generate(np.random.default_rng(_seed_for(split, int(idx), self._salt)), task_id, split)
        task.id, task.split = task_id, split
        if len(self._cache) < 100_000:
            self._cache[task_id] = task
        return task

    def sample(self, rng: np.random.Generator, split: str | None = None) -> Task:
        split = split if split in self._sizes else self.splits[-1] if split is None else split
        if split not in self._sizes:
            raise KeyError(f"unknown split {split!r}; have {self.splits}")
        return self.get(f"{split}-{int(rng.integers(self._sizes[split]))}")


class MixedTaskDataset(_ComputedIndexing, TaskDataset):
    """Several task datasets under one id space.

    Task `"{name}/{id}"` is task `id` of source `name`, with `metadata["source"] = name`. `ids(split)`
    interleaves the sources round-robin, so the first n ids of a split mix them; `sample` picks a source
    that has the split (in proportion to `weights`, equal by default) and then one of its tasks.
    """

    def __init__(self, sources: Mapping[str, TaskDataset], weights: Mapping[str, float] | None = None) -> None:
        if not sources:
            raise ValueError("a mixture needs at least one source")
        if any("/" in name for name in sources):
            raise ValueError("source names cannot contain '/'")
        self.sources = dict(sources)
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in self.sources}
        if any(w < 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ValueError("weights must be >= 0 and not all 0")
        self._cache: dict[str, Task] = {}
        self._split_sizes: dict[str, int] = {}
        self._tasks = []
        self._by_id = {}

    @property
    def splits(self) -> list[str]:
        return sorted({s for src in self.sources.values() for s in src.splits})

    def ids(self, split: str | None = None) -> list[str]:
        per_source = [[f"{name}/{i}" for i in src.ids(split)] for name, src in self.sources.items()]
        return [i for row in itertools.zip_longest(*per_source) for i in row if i is not None]

    def size(self, split: str | None = None) -> int:
        return sum(src.size(split) for src in self.sources.values())

    def _wrap(self, name: str, task: Task) -> Task:
        full = f"{name}/{task.id}"
        cached = self._cache.get(full)
        if cached is None:
            cached = replace(task, id=full, metadata={**task.metadata, "source": name})
            if len(self._cache) < 100_000:
                self._cache[full] = cached
        return cached

    def get(self, task_id: str) -> Task:
        name, sep, inner = task_id.partition("/")
        if not sep or name not in self.sources:
            raise KeyError(f"unknown task id {task_id!r}; mixed ids look like '{next(iter(self.sources))}/<id>'")
        return self._wrap(name, self.sources[name].get(inner))

    def _has(self, name: str, split: str) -> bool:
        key = f"{name}/{split}"  # cached: counting a fixed dataset's split walks all of it
        if key not in self._split_sizes:
            self._split_sizes[key] = self.sources[name].size(split)
        return self._split_sizes[key] > 0

    def sample(self, rng: np.random.Generator, split: str | None = None) -> Task:
        names = [n for n in self.sources if self.weights[n] > 0 and (split is None or self._has(n, split))]
        if not names:
            raise KeyError(f"no source has the split {split!r}; have {self.splits}")
        p = np.array([self.weights[n] for n in names])
        name = names[int(rng.choice(len(names), p=p / p.sum()))]
        return self._wrap(name, self.sources[name].sample(rng, split))


def select_tasks(dataset: TaskDataset, split: str | None, n: int | None, ids: Sequence[str] | None = None) -> list[str]:
    """The first `n` task ids of a split (or the given ids, checked), for evaluation."""
    if ids:
        for i in ids:
            dataset.get(i)
        return list(ids)
    all_ids = dataset.ids(split) if split else dataset.ids()
    if split and not all_ids:
        raise ValueError(f"split {split!r} is empty; available splits: {dataset.splits}")
    return all_ids if n is None else all_ids[:n]
