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


class LanguageEnvWrapper(gym.Env[list[dict[str, Any]], Any]):
    """A Gymnasium env that drives an inner `LanguageEnv` and reshapes its turns.

    It is a plain `gymnasium.Env` holding the inner env (`self.env`) rather than a `gymnasium.Wrapper`:
    `agentgym.make` returns `gym.make(...).unwrapped` and the env checker runs on `.unwrapped`, both of
    which would strip a `gymnasium.Wrapper` and hand back the inner env. Tasks, split, episode state,
    tools and protocol are the inner env's; the sync `reset`/`step` run on the inner env's event-loop
    runner, so the inner env's loop-bound resources (sandbox pipes) see one loop.

    Subclasses override `areset`/`astep` (the async core).
    """

    def __init__(self, env: LanguageEnv) -> None:
        if not isinstance(env, LanguageEnv):  # wrappers swap the inner env's protocol and turn limit
            raise TypeError(f"{type(self).__name__} wraps a LanguageEnv, got {type(env).__name__}")
        self.env = env
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.metadata = dict(env.metadata)
        runner = getattr(env, "_runner", None)
        self._runner: SyncRunner = runner if isinstance(runner, SyncRunner) else SyncRunner()

    # ------------------------------------------------------------------ the inner env's facts

    @property
    def render_mode(self) -> str | None:  # type: ignore[override]
        return self.env.render_mode

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
        """Reset the inner env (`seed` seeds both, so task choice stays reproducible)."""
        super().reset(seed=seed)
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

    def render(self) -> str | None:  # type: ignore[override]
        return self.env.render()
