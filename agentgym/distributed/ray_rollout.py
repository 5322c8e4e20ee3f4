"""`RayRolloutPool`: episodes played by rollout workers that are Ray actors, on a local Ray instance or an
existing cluster (`address=`).

The driver splits the job list `(task_id, sample_index)` into small chunks of consecutive jobs, keeps a few
chunks in flight on every worker (`concurrency` episodes per worker), and collects each chunk's
trajectories when it returns, in the job list's order. A worker that dies (its process exits or is killed:
`ray.exceptions.RayActorError`) is replaced by a fresh actor in the same slot, and exactly the chunks it had
not returned are queued again, first: a chunk's trajectories reach the caller only when the whole chunk
returns, so no episode is dropped and none is counted twice. A chunk whose worker dies `max_attempts`
times stops the run (an episode that kills any worker would otherwise loop forever). Any other error in a
worker (an `AgentError`: bad key, unreachable server) stops the run and is raised as that error.

Job `i` of a run is reset with seed `seed + i` wherever it runs, as `run_episodes` does in-process, so a
deterministic agent gets the same trajectories with or without workers.

Trainers push new weights with `push_weights` after every optimizer step: the state is put in the object
store once and every worker loads it before its next chunk (a replacement too).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.agents.base import Agent
from agentgym.distributed.worker import AgentPolicy, EnvSpec, RolloutWorker, Weights, WorkerPolicy
from agentgym.episode import Job, PreparePrompt
from agentgym.trajectory import Trajectory

__all__ = ["AgentPolicy", "EnvSpec", "RayRolloutPool", "RolloutWorker", "WorkerPolicy", "check_address"]

_ADDRESS = re.compile(r"^(auto|local|(ray://)?[\w.\-]+:\d{1,5})$")


def check_address(address: str | None) -> str | None:
    """`address` for `ray.init` if it is one: "auto", "local", "HOST:PORT" (the GCS of a running cluster) or
    "ray://HOST:PORT" (Ray Client); raises `ValueError` naming the forms otherwise."""
    if address is None:
        return None
    if not isinstance(address, str) or not _ADDRESS.match(address.strip()):
        raise ValueError(f"bad Ray address {address!r}: use auto, local, HOST:PORT or ray://HOST:PORT")
    return address.strip()


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ImportError("rollout workers need Ray: pip install ray") from e
    return ray


def _cause(error: Any) -> BaseException:
    """The worker's own exception inside a `RayTaskError` (an `AgentError` stays an `AgentError`)."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error.as_instanceof_cause()


@dataclass
class _Slot:
    handle: Any
    generation: int = 0


@dataclass
class _Chunk:
    start: int
    jobs: list[Job]
    attempts: int = 0


class RayRolloutPool:
    """`num_workers` rollout workers as Ray actors (see the module docstring).

    Args:
        env: an env id, an env made by `agentgym.make`, an env class or a picklable zero-argument factory.
        policy: an agent spec string or a picklable `Agent` (wrapped in `AgentPolicy`), or a `WorkerPolicy`
            (a trainer's engine replica).
        num_workers: actors to start.
        env_kwargs: keyword arguments for an env id.
        address: join this Ray cluster (`ray.init(address=...)`); default: the Ray instance this process
            already runs, else a new local one (shut down again by `close`).
        concurrency: episodes in flight per worker.
        chunk_size: jobs per call to a worker (a dead worker's unfinished chunks are what is re-run).
        max_attempts: times a chunk may lose its worker before the run stops.
        actor_options: Ray actor options (`num_cpus`, `num_gpus`, `resources`, `runtime_env`, ...).
        init_kwargs: more `ray.init` arguments when the pool starts Ray (`num_cpus`, `runtime_env`, ...).
    """

    def __init__(self, env: Any, policy: str | Agent | WorkerPolicy, num_workers: int, *,
                 env_kwargs: dict[str, Any] | None = None, address: str | None = None, concurrency: int = 8,
                 chunk_size: int = 1, max_attempts: int = 3, actor_options: dict[str, Any] | None = None,
                 init_kwargs: dict[str, Any] | None = None) -> None:
        if num_workers < 1 or concurrency < 1 or chunk_size < 1 or max_attempts < 1:
            raise ValueError("num_workers, concurrency, chunk_size and max_attempts must be >= 1")
        address = check_address(address)
        ray = _ray()
        self._owns_ray = False
        if ray.is_initialized():
            if address is not None:
                raise ValueError("Ray is already initialized in this process; pass address=None to use it, or "
                                 "call ray.shutdown() first to join another cluster")
        else:
            ray.init(address=address, **(init_kwargs or {}))
            self._owns_ray = True
        if not isinstance(policy, WorkerPolicy):
            policy = AgentPolicy(policy)
        self.env = EnvSpec.of(env, env_kwargs)
        self.num_workers, self.concurrency, self.chunk_size = num_workers, concurrency, chunk_size
        self.max_attempts = max_attempts
        #: workers started to replace dead ones, and jobs queued again because their worker died
        self.replacements, self.rerun_jobs = 0, 0
        self._policy_ref = ray.put(policy)
        self._actor = ray.remote(RolloutWorker).options(**(actor_options or {}))
        self._weights: Weights | None = None
        self._slots = [_Slot(self._start(i)) for i in range(num_workers)]
        try:  # wait for the first worker: a broken env or policy fails here, not at the first rollout
            self.name: str = ray.get(self._slots[0].handle.check.remote())
        except ray.exceptions.RayTaskError as e:
            self.close()
            raise _cause(e) from None
        except BaseException:
            self.close()
            raise

    def _start(self, index: int) -> Any:
        return self._actor.remote(self.env, self._policy_ref, index)

    @property
    def workers(self) -> list[Any]:
        """The current actor handles, one per slot."""
        return [s.handle for s in self._slots]

    async def check(self) -> None:
        """Check every worker's policy can work (`Agent.check`); raises its error (e.g. `AgentError`)."""
        await asyncio.gather(*(self._await(s.handle.check.remote()) for s in self._slots))

    def push_weights(self, state: Any) -> None:
        """Make the workers sample from `state` (e.g. a CPU state dict) from their next chunk on; it is put in
        the object store once."""
        version = 1 if self._weights is None else self._weights[0] + 1
        self._weights = (version, [_ray().put(state)])

    def worker_info(self) -> list[dict[str, Any]]:
        """Each worker's pid, slot, episodes played and weight version."""
        ray = _ray()
        return ray.get([s.handle.info.remote() for s in self._slots])

    @staticmethod
    async def _await(ref: Any) -> Any:
        try:
            return await asyncio.wrap_future(ref.future())
        except _ray().exceptions.RayTaskError as e:  # the worker's own error (AgentError, ...), as itself
            raise _cause(e) from None

    def _replace(self, slot: int, generation: int) -> bool:
        """Start a new actor in `slot` if the one of `generation` is still there (once per dead actor)."""
        s = self._slots[slot]
        if s.generation != generation:
            return False
        ray = _ray()
        try:
            ray.kill(s.handle, no_restart=True)
        except Exception:  # already gone
            pass
        self._slots[slot] = _Slot(self._start(slot), generation + 1)
        self.replacements += 1
        return True

    async def run(self, jobs: Sequence[Job], *, seed: int | None = None, options: Any = None,
                  prepare: PreparePrompt | None = None,
                  on_done: Callable[[Trajectory], Awaitable[None] | None] | None = None) -> list[Trajectory | None]:
        """Play `jobs` on the workers; the trajectory of each job, in order (like `run_episodes`).

        Args:
            seed: job `i` resets its env with seed `seed + i` (None: the env's own).
            options: handed to the workers' `WorkerPolicy.policy` (e.g. a trainer's sampling settings).
            prepare: a picklable prompt hook, as in `run_episodes`.
            on_done: called in the driver with each trajectory as its chunk returns (a store, a progress bar).
        """
        ray = _ray()
        results: list[Trajectory | None] = [None] * len(jobs)
        queue = deque(_Chunk(i, list(jobs[i: i + self.chunk_size])) for i in range(0, len(jobs), self.chunk_size))
        per_worker = max(1, -(-self.concurrency // self.chunk_size))
        running: dict[asyncio.Future[Any], tuple[int, int, _Chunk]] = {}
        load = [0] * self.num_workers
        weights = self._weights

        def submit() -> None:  # round-robin over the workers with room, so that every one gets work
            while queue and min(load) < per_worker:
                for slot, s in enumerate(self._slots):
                    if queue and load[slot] < per_worker:
                        chunk = queue.popleft()
                        chunk.attempts += 1
                        ref = s.handle.run.remote(chunk.jobs, chunk.start, seed, options, prepare, weights)
                        running[asyncio.wrap_future(ref.future())] = (slot, s.generation, chunk)
                        load[slot] += 1

        try:
            submit()
            while running:
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                lost: list[_Chunk] = []
                for fut in finished:
                    slot, generation, chunk = running.pop(fut)
                    if self._slots[slot].generation == generation:
                        load[slot] -= 1
                    try:
                        trajs = fut.result()
                    except ray.exceptions.RayActorError as e:  # the worker died: a new one, the chunk again
                        if chunk.attempts >= self.max_attempts:
                            raise RuntimeError(f"jobs {chunk.jobs} lost their rollout worker {chunk.attempts} times; "
                                               f"last: {e}") from e
                        if self._replace(slot, generation):
                            load[slot] = 0
                        lost.append(chunk)
                        continue
                    except ray.exceptions.RayTaskError as e:  # the worker's own error, as itself
                        raise _cause(e) from None
                    for j, traj in enumerate(trajs):
                        results[chunk.start + j] = traj
                        if on_done is not None:
                            done = on_done(traj)
                            if done is not None:
                                await done
                self.rerun_jobs += sum(len(c.jobs) for c in lost)
                queue.extendleft(sorted(lost, key=lambda c: c.start, reverse=True))
                submit()
        finally:
            for fut in running:
                fut.cancel()
        return results

    async def aclose(self) -> None:
        """`close` (the `Agent.aclose` spelling, for code that closes its agent)."""
        self.close()

    def close(self) -> None:
        """Stop the workers (closing their envs), and Ray if this pool started it."""
        ray = _ray()
        if not ray.is_initialized():
            return
        handles = [s.handle for s in self._slots] if hasattr(self, "_slots") else []
        if handles:  # let the live workers close their envs (a dead or stuck one is killed below anyway)
            closing = [h.aclose.remote() for h in handles]
            ray.wait(closing, num_returns=len(closing), timeout=30)
        for h in handles:
            ray.kill(h, no_restart=True)
        self._slots = []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayRolloutPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
