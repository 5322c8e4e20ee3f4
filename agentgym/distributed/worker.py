"""`RolloutWorker`: what one Ray actor of a `RayRolloutPool` holds and runs (plain Python, no Ray import).

A worker holds a pool of envs made from an `EnvSpec` (any id `agentgym.make` accepts, an env class or a
picklable zero-argument factory) and a `WorkerPolicy` (the agent it plays with: an `AgentPolicy` for eval, a
trainer's engine replica for training). It plays chunks of jobs `(task_id, sample_index)` through the one
episode loop, `agentgym.episode.run_episodes`, and returns their trajectories. A chunk is a run of
consecutive jobs of the driver's job list starting at global index `start`, so job `i` is reset with seed
`seed + i` exactly as in-process.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym

from agentgym.agents.base import Agent
from agentgym.episode import Job, PreparePrompt, env_factory, run_episodes
from agentgym.trajectory import Trajectory

Weights = tuple[int, list[Any]]  # (version, [ObjectRef of the state]): a list, so Ray does not resolve it eagerly


@dataclass(frozen=True)
class EnvSpec:
    """What a worker makes its envs from: an env id (`agentgym.make` ids, e.g. `Arithmetic-v0`), an env class
    or a picklable zero-argument factory, and keyword arguments for an id."""

    env: Any
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, env: Any, env_kwargs: dict[str, Any] | None = None) -> EnvSpec:
        """An env spec from what `env_factory` accepts; an env made by `agentgym.make` becomes its id and
        kwargs (instances are not shipped to workers)."""
        if isinstance(env, EnvSpec):
            return env if not env_kwargs else cls(env.env, {**env.kwargs, **env_kwargs})
        if not isinstance(env, (str, type)) and (isinstance(env, gym.Env) or hasattr(env, "astep")):
            spec = getattr(env, "spec", None)
            if spec is None:
                raise TypeError("an env instance without a spec cannot be sent to rollout workers; pass an env id, "
                                "an env class or a zero-argument factory")
            return cls(spec.id, {**spec.kwargs, **(env_kwargs or {})})
        return cls(env, dict(env_kwargs or {}))


@runtime_checkable
class WorkerPolicy(Protocol):
    """The policy side of a worker; it is pickled to the worker, which calls `setup` once there."""

    def setup(self, worker_index: int) -> None:
        """Build what the policy needs in the worker process (an agent, a model replica)."""

    def policy(self, options: Any) -> Agent:
        """The agent for one chunk of jobs; `options` are the driver's per-run settings (e.g. sampling)."""

    def load_weights(self, state: Any) -> None:
        """Load weights the driver pushed (`RayRolloutPool.push_weights`)."""

    async def aclose(self) -> None:
        """Release what `setup` built."""


@dataclass
class AgentPolicy:
    """An eval policy: an agent spec string (`openai:...`, `litellm:...`, `hf:...`), built in each worker with
    `make_agent(agent, **options)`, or a picklable `Agent` used as it is."""

    agent: str | Agent
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._built: Agent | None = None

    def setup(self, worker_index: int) -> None:
        if isinstance(self.agent, str):
            from agentgym.agents.spec import make_agent

            self._built = make_agent(self.agent, **self.options)
        else:
            self._built = self.agent

    def policy(self, options: Any = None) -> Agent:
        if self._built is None:
            raise RuntimeError("AgentPolicy.setup() was not called")
        return self._built

    def load_weights(self, state: Any) -> None:
        raise TypeError("an agent policy has no weights to load; push weights to a trainer's engine replica")

    async def aclose(self) -> None:
        if self._built is not None:
            await self._built.aclose()

    def __getstate__(self) -> dict[str, Any]:
        return {"agent": self.agent, "options": self.options, "_built": None}


class RolloutWorker:
    """Plays chunks of jobs with its envs and policy (a Ray actor inside `RayRolloutPool`; see module doc).

    Args:
        env: the envs to make.  policy: the agent side.  index: the worker's slot in its pool (a replacement
            takes the slot, and the policy's seed, of the worker it replaces).
    """

    def __init__(self, env: EnvSpec, policy: WorkerPolicy, index: int = 0) -> None:
        self.index, self.policy = index, policy
        self.episodes = 0
        self._free: list[Any] = []  # envs not used by a running chunk
        self._version = 0
        self._lock: asyncio.Lock | None = None
        # a failure here is raised by every call, as itself (an actor whose constructor raised would die
        # with the error as text only)
        self._error: Exception | None = None
        try:
            self.make_env, self.env_id = env_factory(env.env, env.kwargs or None)
            self._free.append(self.make_env())  # a broken env spec fails here, before any job
            policy.setup(index)
        except Exception as e:
            self._error = e

    def _ready(self) -> None:
        if self._error is not None:
            raise self._error

    async def run(self, jobs: Sequence[Job], start: int = 0, seed: int | None = None, options: Any = None,
                  prepare: PreparePrompt | None = None, weights: Weights | None = None) -> list[Trajectory]:
        """Play `jobs` (global indices `start`, `start + 1`, ...) at once; their trajectories, in order."""
        self._ready()
        await self._load(weights)
        envs, self._free = self._free[: len(jobs)], self._free[len(jobs):]
        try:
            done = await run_episodes(self.make_env, self.policy.policy(options), jobs, concurrency=len(jobs),
                                      env_id=self.env_id, envs=envs, seed=None if seed is None else seed + start,
                                      prepare=prepare)
        finally:
            self._free.extend(envs)
        self.episodes += len(done)
        return [t for t in done if t is not None]

    async def _load(self, weights: Weights | None) -> None:
        if weights is None or weights[0] == self._version:
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:  # concurrent chunks of one run: the first loads, the rest wait for it
            version, (ref,) = weights
            if version != self._version:
                import ray

                self.policy.load_weights(await ref if isinstance(ref, ray.ObjectRef) else ref)
                self._version = version

    async def check(self) -> str:
        """Check the policy can work (`Agent.check`, e.g. the server is reachable); returns its name."""
        self._ready()
        agent = self.policy.policy(None)
        await agent.check()
        return agent.name

    def info(self) -> dict[str, Any]:
        """The worker's process id, slot, episodes played and weight version."""
        return {"pid": os.getpid(), "index": self.index, "episodes": self.episodes, "weights": self._version}

    async def aclose(self) -> None:
        """Close the envs and the policy."""
        envs, self._free = self._free, []
        for env in envs:
            await env.aclose()
        if self._error is None:
            await self.policy.aclose()
