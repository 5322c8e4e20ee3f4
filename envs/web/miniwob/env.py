"""`MiniWoBEnv`: one MiniWoB++ task as a `WebEnv` on a real browser.

`agentgym.make("miniwob.click-button-v0")` (any name in `MINIWOB_TASKS`) builds it. A task id `"test-7"` is one
seed of the page's generator (seeds are drawn reproducibly per id, so an id always shows the same problem);
reset loads the page from a local static server, starts the episode with `Math.seedrandom(seed)` and
`core.startEpisodeReal()`, and the goal the agent sees is the page's own instruction (`core.getUtterance()`).
The reward is the task's: its JavaScript ends the episode with a raw reward in [-1, 1]; the env gives
`max(raw, 0)` (1 for a solved task, partial credit where the task gives it, 0 for a wrong answer) and ends the
episode when the page says it is done.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from agentgym.envs.web.env import CRASH_KEY, PAGE_KEY, WebEnv
from agentgym.envs.web.miniwob.tasks import MINIWOB_TASKS, MiniWoBServer, MiniWoBTask, outcome_from_extra
from agentgym.tools.browser.base import ActionError, BackendCrashed, PageSession, PageState, WebBackend

from agentgym.protocols import ToolProtocol
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task

SYSTEM_PROMPT = (
    "You are a web agent solving a small task on a web page. You see the page as accessibility text in which "
    "every element you can act on has an id in brackets. Follow the instruction exactly, acting one step at a "
    "time; the task ends by itself when you complete it."
)


def miniwob_reward(page: PageState, task: Task, session: PageSession | None) -> tuple[float, bool]:
    """The task's own verdict, read from `page.extra`: (max(raw reward, 0), done)."""
    outcome = outcome_from_extra(page.extra)
    return (max(outcome.raw_reward, 0.0) if outcome.done else 0.0), outcome.done


def _default_backend() -> WebBackend:
    from agentgym.tools.browser.playwright_backend import PlaywrightBackend

    return PlaywrightBackend(max_contexts=1)


class MiniWoBEnv(WebEnv):
    """`agentgym/miniwob.<task>-v0`: a MiniWoB++ task page in Chromium.

    Args:
        task: the MiniWoB++ task name, e.g. "click-button".
        backend: a `WebBackend` (shared, left open) or a factory of one; default: a `PlaywrightBackend` of
            its own, started at the first reset.
        protocol: "browsergym" (BrowserGym function-call strings, default), "hermes", "tags" or "native".
        max_turns: assistant turns before truncation.
        episode_max_time_ms: the page's own time limit (the reward of time-scored tasks does not depend on it:
            the env uses the raw reward).
        sizes: nominal number of seeds per split.
        **kwargs: more `WebEnv` / `LanguageEnv` options.
    """

    def __init__(
        self,
        task: str = "click-button",
        backend: WebBackend | Callable[[], WebBackend] | None = None,
        protocol: str | ToolProtocol = "browsergym",
        max_turns: int = 10,
        episode_max_time_ms: int = 1_000_000,
        sizes: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if task not in MINIWOB_TASKS:
            close = difflib.get_close_matches(task, MINIWOB_TASKS, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown MiniWoB++ task {task!r}{hint}")
        self.task_name = task
        self.episode_max_time_ms = episode_max_time_ms
        self._server: MiniWoBServer | None = None

        def make_task(rng: np.random.Generator, task_id: str, split: str) -> Task:
            seed = int(rng.integers(0, 2**31 - 1))
            return Task(id=task_id, prompt=f"(MiniWoB++ {task}: the instruction appears when the page loads)",
                        split=split, metadata={"seed": seed, "miniwob_task": task})

        tasks = GeneratedTaskDataset(make_task, sizes or {"train": 100_000, "test": 1_000}, salt=f"miniwob-{task}")
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        super().__init__(tasks, backend if backend is not None else _default_backend, start_url=self._start_url,
                         reward=miniwob_reward, protocol=protocol, max_turns=max_turns, **kwargs)

    def _miniwob_task(self) -> MiniWoBTask:
        if self._server is None:
            self._server = MiniWoBServer.acquire()
        return MiniWoBTask(self.task_name, self._server.base_url, self.episode_max_time_ms)

    def _start_url(self, task: Task) -> str:
        return self._miniwob_task().url

    async def setup_episode(self, state: EpisodeState) -> None:
        """Open the page (WebEnv), then start the seeded episode and make its instruction the goal."""
        await super().setup_episode(state)
        if state.data.get(CRASH_KEY) or self._session is None:
            return
        try:
            utterance, page = await self._timed(
                self._miniwob_task().start(self._session, int(state.task.metadata["seed"]), load=False),
                "starting the MiniWoB++ episode")
        except (BackendCrashed, ActionError) as e:
            state.data[CRASH_KEY] = f"the task could not start ({type(e).__name__}: {e})"
            return
        state.data[PAGE_KEY] = page
        state.data["utterance"] = utterance
        state.task = replace(state.task, prompt=utterance)

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            if self._server is not None:
                self._server = None
                MiniWoBServer.release()
