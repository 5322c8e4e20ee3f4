"""Weighted reward rubrics: reward = sum(weight_i * f_i(state)); zero-weight functions are logged metrics."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentgym.state import EpisodeState

RewardFn = Callable[["EpisodeState"], float | Awaitable[float]]


@dataclass
class RewardFunc:
    """One term of a rubric. `fn(state)` may be sync or async and returns a float."""

    fn: RewardFn
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = getattr(self.fn, "__name__", "reward")
        self._is_async = inspect.iscoroutinefunction(self.fn)


class Rubric:
    """A weighted sum of reward functions.

    A function that raises or returns a non-finite value scores 0 and the error is reported in the
    components under `"<name>_error"`, so a broken grader never kills a rollout silently.
    """

    def __init__(self, funcs: Sequence[RewardFunc | RewardFn] = ()) -> None:
        self.funcs: list[RewardFunc] = [f if isinstance(f, RewardFunc) else RewardFunc(f) for f in funcs]
        names = [f.name for f in self.funcs]
        if len(set(names)) != len(names):
            raise ValueError(f"reward function names must be unique, got {names}")

    def reweighted(self, weights: Mapping[str, float]) -> Rubric:
        """A copy with the named terms' weights replaced (the others keep theirs)."""
        names = [f.name for f in self.funcs]
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise ValueError(f"unknown reward terms {unknown}; this rubric has {names}")
        for name, w in weights.items():
            if not isinstance(w, (int, float)) or not math.isfinite(w):
                raise ValueError(f"the weight of {name!r} must be a finite number, got {w!r}")
        return Rubric([RewardFunc(f.fn, float(weights.get(f.name, f.weight)), f.name) for f in self.funcs])

    async def score(self, state: EpisodeState) -> tuple[float, dict[str, Any]]:
        """Return (total reward, {name: value} for every function)."""
        total = 0.0
        components: dict[str, Any] = {}
        for f in self.funcs:
            try:
                value = f.fn(state)
                if f._is_async or inspect.isawaitable(value):
                    value = await value  # type: ignore[misc]
                value = float(value)  # type: ignore[arg-type]
                if not math.isfinite(value):
                    raise ValueError(f"non-finite reward {value}")
            except Exception as e:
                components[f"{f.name}_error"] = f"{type(e).__name__}: {e}"
                value = 0.0
            components[f.name] = value
            total += f.weight * value
        return total, components
