"""`LanguageEnvWrapper`: the base of envs that change how an agent talks to a `LanguageEnv`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agentgym._sync import SyncRunner
from agentgym.env import LanguageEnv
from agentgym.messages import Message
from agentgym.protocols import ActionTagProtocol, ToolProtocol, TurnCheck
from agentgym.state import EpisodeState
from agentgym.tasks import TaskDataset

Step = tuple[list[dict[str, Any]], float, bool, bool, dict[str, Any]]


def action_text(action: Any) -> str:
    """The text of an action as `LanguageEnv.step` accepts it (a string, a `Message` or a message dict)."""
    if isinstance(action, str):
        return action
    if isinstance(action, Message):
        return action.content or ""
    if isinstance(action, dict):
        content = action.get("content")
        return content if isinstance(content, str) else ""
    return str(action)


def build_inner_env(env: Any, protocol: ToolProtocol, max_turns: int, wrapper: str,
                    env_kwargs: dict[str, Any], **constructor: Any) -> LanguageEnv:
    """The env a wrapper drives, with `protocol` and `max_turns` given to its constructor.

    `env` is an env id (made with `agentgym.make`), an env class or factory (called with `protocol=`,
    `max_turns=` and `env_kwargs`), or a `LanguageEnv` already built with a protocol of `protocol`'s type and
    that turn limit. A wrapper never changes the env it wraps; an instance built otherwise is refused
    with the way to build it.
    """
    kwargs = {**env_kwargs, **{k: v for k, v in constructor.items() if v is not None},
              "protocol": protocol, "max_turns": max_turns}
    if isinstance(env, str):
        from agentgym.registry import make

        inner = make(env, **kwargs)
    elif isinstance(env, LanguageEnv):
        if env_kwargs or any(v is not None for v in constructor.values()):
            raise TypeError(f"{wrapper}: env keyword arguments need an env id or class, not an env instance")
        if type(env.protocol) is not type(protocol) or env.max_turns != max_turns:
            raise ValueError(
                f"{wrapper} drives the env with {type(protocol).__name__} and max_turns={max_turns}; this "
                f"{type(env).__name__} was built with {type(env.protocol).__name__} and max_turns={env.max_turns}. "
                f"Pass its id or class instead (e.g. {wrapper}({type(env).__name__}, ...)), or build it with "
                "protocol= and max_turns=")
        inner = env
    elif callable(env):
        inner = env(**kwargs)
    else:
        raise TypeError(f"{wrapper} wraps an env id, an env class or factory, or a LanguageEnv; got {type(env).__name__}")
    if not isinstance(inner, LanguageEnv):
        raise TypeError(f"{wrapper} wraps a LanguageEnv, got {type(inner).__name__}")
    return inner


class LanguageEnvWrapper(gym.Wrapper[list[dict[str, Any]], Any, list[dict[str, Any]], Any]):
    """A `gymnasium.Wrapper` around a `LanguageEnv` that reshapes its turns, async first.

    `agentgym.make` returns it as is (`env.unwrapped` is the inner env). Tasks, split, episode state, tools
    and protocol are the inner env's; the sync `reset`/`step` run on the inner env's event-loop runner, so
    the inner env's loop-bound resources (sandbox pipes) see one loop. Subclasses override `areset`/`astep`.
    """

    def __init__(self, env: LanguageEnv) -> None:
        if not isinstance(env, LanguageEnv):
            raise TypeError(f"{type(self).__name__} wraps a LanguageEnv, got {type(env).__name__}")
        super().__init__(env)
        self.env: LanguageEnv = env
        runner = getattr(env, "_runner", None)
        self._runner: SyncRunner = runner if isinstance(runner, SyncRunner) else SyncRunner()

    @property
    def spec(self) -> Any:  # type: ignore[override]
        """The registered spec that builds this whole stack (set on the inner env by `make`)."""
        return self.env.spec

    # ------------------------------------------------------------------ the inner env's facts

    @property
    def tasks(self) -> TaskDataset:
        return self.env.tasks

    @property
    def split(self) -> str | None:
        return self.env.split

    @property
    def state(self) -> EpisodeState | None:
        return self.env.state

    @property
    def protocol(self) -> ToolProtocol:
        return self.env.protocol

    @property
    def tools(self) -> list[Any]:
        return self.env.tools

    @property
    def tool_schemas(self) -> list[dict[str, Any]]:
        return self.env.tool_schemas

    # ------------------------------------------------------------------ Gymnasium API

    async def areset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Reset the inner env (`seed` seeds it, so task choice stays reproducible)."""
        return await self.env.areset(seed=seed, options=options)

    async def astep(self, action: Any) -> Step:
        return await self.env.astep(action)

    async def step_checked(self, action: Any, protocol: ActionTagProtocol) -> tuple[str, TurnCheck, bool, Step]:
        """Step the inner env and judge the turn as its `protocol` parsed it.

        Returns the action's text, the protocol's `TurnCheck`, whether the action was executed (a valid
        turn whose call could be built) and the inner env's step.
        """
        state = self.env.state
        if state is None:
            raise RuntimeError("call reset() first")
        text = action_text(action)
        step = await self.env.astep(action)
        check = protocol.check(text, state.turn)
        return text, check, check.action is not None and not step[4].get("parse_errors"), step

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self._runner.run(self.areset(seed=seed, options=options))

    def step(self, action: Any) -> Step:
        return self._runner.run(self.astep(action))

    async def aclose(self) -> None:
        await self.env.aclose()

    def close(self) -> None:
        self._runner.run(self.aclose())
        self.env.close()
