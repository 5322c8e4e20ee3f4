"""The Graph of Thoughts task families for the thought-graph env, by name.

`TASK_FAMILIES` maps a family's name to its `ThoughtTask` class; `get_task(name, **kwargs)` builds one.
HumanEval is registered lazily: its module (and what it needs to run code) is imported only when that family
is asked for, so this package imports without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from agentgym.envs.thought_graph.task import ThoughtTask
from agentgym.envs.thought_graph.tasks.doc_merging import DocMergingTask
from agentgym.envs.thought_graph.tasks.keyword_counting import KeywordCountingTask
from agentgym.envs.thought_graph.tasks.set_intersection import SetIntersectionTask
from agentgym.envs.thought_graph.tasks.sorting import SortingTask

__all__ = [
    "TASK_FAMILIES",
    "DocMergingTask",
    "HumanEvalThoughtTask",
    "KeywordCountingTask",
    "SetIntersectionTask",
    "SortingTask",
    "get_task",
]

# name -> (module, class) of the families imported on first use
_LAZY: dict[str, tuple[str, str]] = {
    "humaneval": ("agentgym.envs.thought_graph.tasks.humaneval", "HumanEvalThoughtTask"),
}


class _TaskFamilies(Mapping[str, type[ThoughtTask]]):
    """A read-only name -> class mapping whose lazy entries import their module when first looked up."""

    def __init__(self, eager: dict[str, type[ThoughtTask]], lazy: dict[str, tuple[str, str]]) -> None:
        self._loaded = dict(eager)
        self._lazy = dict(lazy)

    def __getitem__(self, name: str) -> type[ThoughtTask]:
        if name not in self._loaded:
            if name not in self._lazy:
                raise KeyError(name)
            module, attr = self._lazy[name]
            self._loaded[name] = getattr(importlib.import_module(module), attr)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._loaded
        yield from (name for name in self._lazy if name not in self._loaded)

    def __len__(self) -> int:
        return len(self._loaded.keys() | self._lazy.keys())

    def __contains__(self, name: object) -> bool:
        # membership must not import a lazy family
        return name in self._loaded or name in self._lazy

    def __repr__(self) -> str:
        return f"TaskFamilies({sorted(self)})"


#: every family by name; "humaneval" is imported on first lookup
TASK_FAMILIES: Mapping[str, type[ThoughtTask]] = _TaskFamilies(
    {
        SortingTask.name: SortingTask,
        SetIntersectionTask.name: SetIntersectionTask,
        KeywordCountingTask.name: KeywordCountingTask,
        DocMergingTask.name: DocMergingTask,
    },
    _LAZY,
)


def get_task(name: str, **kwargs: Any) -> ThoughtTask:
    """A task of the family `name` (see `TASK_FAMILIES`) built with `kwargs`; ValueError for an unknown name."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in TASK_FAMILIES:
        raise ValueError(f"unknown thought-graph task family {name!r}; known: {', '.join(sorted(TASK_FAMILIES))}")
    return TASK_FAMILIES[key](**kwargs)


def __getattr__(name: str) -> Any:
    # `from ...tasks import HumanEvalThoughtTask` works without importing HumanEval's module up front
    for family, (_, attr) in _LAZY.items():
        if name == attr:
            return TASK_FAMILIES[family]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
