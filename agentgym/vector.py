"""`AsyncVectorLanguageEnv`: N language envs stepped concurrently on one event loop.

Gymnasium's `AsyncVectorEnv` uses worker processes and shared memory, which corrupts `Text`
observations and cannot share an event loop; this one keeps everything in one process and gathers the
sub-envs' `astep` coroutines. Observations and infos are lists (one entry per sub-env); rewards,
terminations and truncations are numpy arrays. Autoreset follows Gymnasium's next-step mode: the step
after an episode ends resets that sub-env and returns its first observation with reward 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from agentgym._sync import SyncRunner
from agentgym.env import LanguageEnv


class AsyncVectorLanguageEnv(VectorEnv):
    """Steps several `LanguageEnv`s concurrently with `asyncio.gather`."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, envs: Sequence[LanguageEnv]) -> None:
        if not envs:
            raise ValueError("need at least one env")
        self.envs = list(envs)
        self.num_envs = len(self.envs)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = spaces.Tuple([e.observation_space for e in self.envs])
        self.action_space = spaces.Tuple([e.action_space for e in self.envs])
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)
        self._runner = SyncRunner()

    async def areset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | Sequence[Any] | None = None
    ) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
        """Reset every sub-env; an int seed gives sub-env i the seed `seed + i`."""
        seeds: list[int | None]
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        opts = list(options) if isinstance(options, (list, tuple)) else [options] * self.num_envs
        results = await asyncio.gather(*(e.areset(seed=s, options=o) for e, s, o in zip(self.envs, seeds, opts, strict=True)))
        self._needs_reset[:] = False
        return [r[0] for r in results], [r[1] for r in results]

    async def astep(self, actions: Sequence[Any]) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")

        async def one(i: int, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
            env = self.envs[i]
            if self._needs_reset[i]:
                obs, info = await env.areset()
                return obs, 0.0, False, False, info
            return await env.astep(action)

        results = await asyncio.gather(*(one(i, a) for i, a in enumerate(actions)))
        obs = [r[0] for r in results]
        rewards = np.array([r[1] for r in results], dtype=np.float64)
        terms = np.array([r[2] for r in results], dtype=bool)
        truncs = np.array([r[3] for r in results], dtype=bool)
        self._needs_reset = terms | truncs
        return obs, rewards, terms, truncs, [r[4] for r in results]

    def reset(self, *, seed: Any = None, options: Any = None) -> tuple[Any, Any]:  # type: ignore[override]
        return self._runner.run(self.areset(seed=seed, options=options))

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, Any]:  # type: ignore[override]
        return self._runner.run(self.astep(actions))

    def close_extras(self, **kwargs: Any) -> None:
        for e in self.envs:
            e.close()
        self._runner.close()


def vector_entry_point(num_envs: int = 1, **kwargs: Any) -> AsyncVectorLanguageEnv:
    """Used by `gymnasium.make_vec(id, num_envs, vectorization_mode="vector_entry_point")`."""
    from agentgym.registry import make

    env_id = kwargs.pop("_env_id", None)
    if env_id is None:
        raise ValueError("use agentgym.make_vec(env_id, num_envs) to build a vector env")
    return AsyncVectorLanguageEnv([make(env_id, **kwargs) for _ in range(num_envs)])
