"""`EpisodeHost`: the server side of remote envs, without HTTP.

A table of live episodes under ids, one env instance each (made by the host's factory). Calls on one episode
run one at a time (a lock per episode); calls on different episodes interleave on the event loop. The host
refuses episodes beyond `max_episodes`, and evicts (closes) episodes left untouched for `idle_timeout`
seconds, remembering their ids so that a late call is told why the episode is gone.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_REMEMBERED_EVICTIONS = 100_000


class HostError(Exception):
    """A call the host cannot serve; `status` is the HTTP status the server answers with."""

    status = 500
    kind = "host_error"


class EpisodeNotFound(HostError):
    """No episode under this id (never created, closed, or lost in a server restart)."""

    status = 404
    kind = "episode_not_found"


class EpisodeEvicted(HostError):
    """The episode was closed after being idle for longer than the host's idle timeout."""

    status = 410
    kind = "episode_evicted"


class TooManyEpisodes(HostError):
    """The host already holds its maximum number of episodes."""

    status = 503
    kind = "too_many_episodes"


class EnvFailed(HostError):
    """The env raised inside reset/step (the episode stays; other episodes are unaffected)."""

    status = 500
    kind = "env_error"


@dataclass
class _Episode:
    env: Any
    last_used: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class EpisodeHost:
    """Episodes of one env family, by id.

    Args:
        make_env: a zero-argument factory of env instances (with `areset`/`astep`/`aclose`).
        max_episodes: episodes held at once; `create` beyond it raises `TooManyEpisodes`.
        idle_timeout: seconds after which an untouched episode is evicted (None: never).
        clock: the time source (monotonic seconds).
    """

    def __init__(self, make_env: Callable[[], Any], *, max_episodes: int = 1024, idle_timeout: float | None = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_episodes < 1:
            raise ValueError(f"max_episodes must be >= 1, got {max_episodes}")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be > 0 seconds (or None), got {idle_timeout}")
        self.make_env = make_env
        self.max_episodes = max_episodes
        self.idle_timeout = idle_timeout
        self.clock = clock
        self._episodes: dict[str, _Episode] = {}
        self._evicted: OrderedDict[str, float] = OrderedDict()
        self._reserved = 0  # episodes being created (their env is being made)

    def __len__(self) -> int:
        return len(self._episodes)

    def stats(self) -> dict[str, Any]:
        """Counts for the server's health endpoint."""
        return {"episodes": len(self._episodes), "max_episodes": self.max_episodes, "idle_timeout": self.idle_timeout,
                "evicted": len(self._evicted)}

    # ------------------------------------------------------------------ lifecycle

    async def create(self) -> str:
        """Make an env for a new episode; returns its id."""
        held = len(self._episodes) + self._reserved
        if held >= self.max_episodes:
            raise TooManyEpisodes(f"server holds {held} episodes (max {self.max_episodes}); close episodes or start "
                                  "the server with a larger --max-episodes")
        self._reserved += 1
        try:
            env = self.make_env()
        except Exception as e:
            raise EnvFailed(f"could not make an env: {type(e).__name__}: {e}") from e
        finally:
            self._reserved -= 1
        episode_id = uuid.uuid4().hex
        self._episodes[episode_id] = _Episode(env, self.clock())
        return episode_id

    async def reset(self, episode_id: str, seed: int | None = None,
                    options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """`env.areset(seed=..., options=...)` of the episode's env."""
        return await self._call(episode_id, "reset", lambda env: env.areset(seed=seed, options=options))

    async def step(self, episode_id: str, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """`env.astep(action)` of the episode's env."""
        return await self._call(episode_id, "step", lambda env: env.astep(action))

    async def render(self, episode_id: str) -> Any:
        """`env.render()` of the episode's env."""

        async def render(env: Any) -> Any:
            return env.render()

        return await self._call(episode_id, "render", render)

    async def close(self, episode_id: str) -> None:
        """Close the episode's env and forget the episode."""
        ep = self._get(episode_id)
        async with ep.lock:
            if self._episodes.pop(episode_id, None) is None:
                return
            await self._close_env(ep.env)

    async def aclose(self) -> None:
        """Close every episode (server shutdown)."""
        episodes, self._episodes = list(self._episodes.values()), {}
        for ep in episodes:
            await self._close_env(ep.env)

    # ------------------------------------------------------------------ idle eviction

    async def evict_idle(self) -> list[str]:
        """Close the episodes idle for longer than `idle_timeout` (none in the middle of a call)."""
        if self.idle_timeout is None:
            return []
        now = self.clock()
        stale = [eid for eid, ep in self._episodes.items()
                 if now - ep.last_used > self.idle_timeout and not ep.lock.locked()]
        for eid in stale:
            ep = self._episodes.pop(eid)
            self._evicted[eid] = self.idle_timeout
            while len(self._evicted) > _REMEMBERED_EVICTIONS:
                self._evicted.popitem(last=False)
            await self._close_env(ep.env)
        return stale

    async def run_evictor(self) -> None:
        """Evict idle episodes every quarter of the timeout (at most every second) until cancelled."""
        if self.idle_timeout is None:
            return
        interval = min(1.0, self.idle_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            await self.evict_idle()

    # ------------------------------------------------------------------ internals

    def _get(self, episode_id: str) -> _Episode:
        ep = self._episodes.get(episode_id)
        if ep is not None:
            return ep
        if episode_id in self._evicted:
            raise EpisodeEvicted(f"episode {episode_id} was evicted after {self._evicted[episode_id]:g} s idle")
        raise EpisodeNotFound(f"unknown episode {episode_id}")

    async def _call(self, episode_id: str, what: str, fn: Callable[[Any], Any]) -> Any:
        ep = self._get(episode_id)
        async with ep.lock:
            if self._episodes.get(episode_id) is not ep:  # closed or evicted while this call waited
                self._get(episode_id)
            ep.last_used = self.clock()
            try:
                return await fn(ep.env)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                raise EnvFailed(f"{what} failed: {type(e).__name__}: {e}") from e
            finally:
                ep.last_used = self.clock()

    @staticmethod
    async def _close_env(env: Any) -> None:
        try:
            await env.aclose()
        except Exception:  # a broken env must not stop the others from closing
            pass
