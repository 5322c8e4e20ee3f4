"""Environment registry on top of Gymnasium's.

`agentgym.register("MyEnv-v0", entry_point=...)` registers `agentgym/MyEnv-v0` in Gymnasium's registry, so
`agentgym.make(...)` and `gymnasium.make("agentgym/MyEnv-v0")` both work. Third-party packages add envs
through the entry-point group `agentgym.envs`: each entry point names a callable that registers its envs
(or a module whose import does), and is loaded the first time an unknown id or the env list is asked for.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import gymnasium as gym

NAMESPACE = "agentgym"
ENTRY_POINT_GROUP = "agentgym.envs"

_registered: set[str] = set()
_plugins_loaded = False


class EnvNotFoundError(KeyError):
    """No environment is registered under the requested id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "environment not found"


def full_id(env_id: str) -> str:
    """`Name-v0` -> `agentgym/Name-v0`; ids that carry a namespace are kept."""
    return env_id if "/" in env_id else f"{NAMESPACE}/{env_id}"


def register(
    env_id: str,
    entry_point: str | Callable[..., gym.Env[Any, Any]],
    *,
    kwargs: dict[str, Any] | None = None,
    nondeterministic: bool = False,
    **spec_kwargs: Any,
) -> str:
    """Register an environment; returns its full id. Re-registering the same id replaces it."""
    fid = full_id(env_id)
    if fid in gym.registry:
        del gym.registry[fid]
    gym.register(
        id=fid,
        entry_point=entry_point,
        kwargs=kwargs or {},
        nondeterministic=nondeterministic,
        disable_env_checker=True,
        order_enforce=False,
        vector_entry_point=functools.partial(_vector_entry_point, _env_id=fid),
        **spec_kwargs,
    )
    _registered.add(fid)
    return fid


def load_plugins(force: bool = False) -> None:
    """Load every `agentgym.envs` entry point once; a broken plugin is reported, not fatal."""
    global _plugins_loaded
    if _plugins_loaded and not force:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj):
                obj()
        except Exception as e:  # a third-party bug must not break agentgym
            warnings.warn(f"agentgym: could not load environment plugin {ep.name!r} ({ep.value}): {e}", stacklevel=2)


def _vector_entry_point(num_envs: int = 1, **kwargs: Any) -> Any:
    from agentgym.vector import vector_entry_point

    return vector_entry_point(num_envs=num_envs, **kwargs)


def list_envs() -> list[str]:
    """Ids of every environment registered through agentgym (built-in and plugins), sorted."""
    load_plugins()
    return sorted(i for i in _registered if i in gym.registry)


def make(env_id: str, **kwargs: Any) -> Any:
    """Create a registered environment with its wrappers (`.spec` set); kwargs override the registered ones.

    Gymnasium's own wrappers are not added (agentgym envs check their order and turn limits themselves), so
    what returns is exactly what the entry point built: a `LanguageEnv`, or an agentgym wrapper around one.
    `remote:http://HOST:PORT/ENV_ID` gives a `RemoteEnv` playing episodes on an `agentgym serve-env` server.
    """
    if env_id.startswith("remote:"):
        from agentgym.remote import make_remote

        return make_remote(env_id, **kwargs)
    fid = full_id(env_id)
    if fid not in gym.registry:
        load_plugins()
    if fid not in gym.registry:
        known = ", ".join(list_envs()) or "(none)"
        raise EnvNotFoundError(f"unknown environment {env_id!r}; registered: {known}")
    return gym.make(fid, **kwargs)


def make_vec(env_id: str, num_envs: int, **kwargs: Any) -> Any:
    """`num_envs` copies of an environment stepped concurrently on one event loop."""
    from agentgym.vector import AsyncVectorLanguageEnv

    return AsyncVectorLanguageEnv([make(env_id, **kwargs) for _ in range(num_envs)])
