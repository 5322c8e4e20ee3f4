"""Any installed BrowserGym task as an agentgym env: `agentgym.make("BrowserGym-v0", task="browsergym/miniwob.click-button")`
(or `agentgym.make("browsergym.miniwob.click-button-v0")`, registered for every MiniWoB++ task).

BrowserGym's env drives Playwright's *sync* API, which cannot run on a thread that has a running asyncio loop,
so each `BrowserGymEnv` owns one worker thread that creates, steps and closes its BrowserGym env; the async
`areset`/`astep` await that thread. BrowserGym takes its Playwright instance from a process-wide global, so the
worker starts its own and installs it (under a lock) right before each BrowserGym reset, which is when
BrowserGym launches its browsers.

Observations are BrowserGym's own: the goal, the URL, the last action's error, and the accessibility tree
flattened with `browsergym.utils.obs.flatten_axtree_to_str`. Actions pass through unchanged: the reply's
BrowserGym function calls (`click('a51')`, `fill('12', "hi")`, in a ``` block or on their own lines) go to
BrowserGym's `step`, which parses and runs them with its `HighLevelActionSet`. The reward is BrowserGym's.

Chromium: BrowserGym launches the task browser with `pw_chromium_kwargs` (we pass the system Chromium's
`executable_path`) and a chat window with a bare `launch()`; for that one `PLAYWRIGHT_BROWSERS_PATH` points
the worker's Playwright driver at a folder whose Chromium is the system one (`playwright_browsers_dir`). MiniWoB
pages come from the local `MiniWoBServer` (BrowserGym's `base_url` task argument, so `MINIWOB_URL` is not
needed).

Clock-driven pages (MiniWoB's stock-market ticker, moving items, Simon says...) run on a virtual clock
(`agentgym.tools.browser.clock`): the page's own timers and dates move `virtual_clock_ms` per reset and per step,
right before the reward is read and the page observed, so the same seed and actions give the same observation
however long the browser took. `virtual_clock_ms="auto"` (the default) turns it on for MiniWoB tasks whose page
schedules timers, None keeps the wall clock everywhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from agentgym.env import LanguageEnv
from agentgym.protocols import ParsedAction, ToolOutput
from agentgym.rubric import RewardFunc, Rubric
from agentgym.state import EpisodeState
from agentgym.tasks import GeneratedTaskDataset, Task

T = TypeVar("T")

_GLOBAL_PW_LOCK = threading.Lock()  # BrowserGym's Playwright is a process-wide global
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_CALL_LINE = re.compile(r"^\s*[A-Za-z_]\w*\s*\(")

SYSTEM_PROMPT = (
    "You are a web agent. Each turn you see the goal and the page as an accessibility tree in which elements "
    "have ids in brackets (bid). Answer with one action, a Python-style function call such as click('12') or "
    "fill('7', \"text\"), in a ``` code block. The actions:\n"
)


def bgym_reward(state: EpisodeState) -> float:
    """BrowserGym's last step reward."""
    return float(state.data.get("bgym_reward", 0.0))


def extract_action(text: str) -> str:
    """The BrowserGym action source in a reply: the contents of its ``` blocks, else its lines that start like a
    function call (with continuation lines up to balanced parentheses), else the whole reply."""
    blocks = _FENCE.findall(text or "")
    if blocks:
        return "\n".join(b.strip() for b in blocks if b.strip())
    lines = (text or "").splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _CALL_LINE.match(lines[i]):
            chunk = [lines[i]]
            depth = lines[i].count("(") - lines[i].count(")")
            while depth > 0 and i + 1 < len(lines) and len(chunk) < 30:
                i += 1
                chunk.append(lines[i])
                depth += lines[i].count("(") - lines[i].count(")")
            out.append("\n".join(chunk).strip())
        i += 1
    return "\n".join(out) if out else (text or "").strip()


def goal_text(obs: dict[str, Any]) -> str:
    """The goal of a BrowserGym observation as text (its text parts)."""
    parts = obs.get("goal_object") or []
    texts = [p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
    return "\n".join(t for t in texts if t) or str(obs.get("goal") or "")


def render_observation(obs: dict[str, Any], max_chars: int | None = None) -> str:
    """BrowserGym's observation as text: URL, tabs, last action error, and the flattened accessibility tree."""
    from browsergym.utils.obs import flatten_axtree_to_str

    tree = flatten_axtree_to_str(obs["axtree_object"]) if obs.get("axtree_object") else ""
    if max_chars is not None and len(tree) > max_chars:
        tree = tree[:max_chars] + f"\n[... {len(tree) - max_chars} more characters not shown]"
    lines = [f"URL: {obs.get('url', '')}"]
    urls = obs.get("open_pages_urls") or []
    if len(urls) > 1:
        lines.append("Tabs: " + ", ".join(f"[{i}] {u}" for i, u in enumerate(urls)))
    if obs.get("last_action_error"):
        lines.append(f"Error from the last action: {obs['last_action_error']}")
    if obs.get("focused_element_bid"):
        lines.append(f"Focused element: [{obs['focused_element_bid']}]")
    lines += ["", tree]
    return "\n".join(lines)


class _Worker:
    """One thread that owns a BrowserGym env and the sync Playwright it runs on."""

    def __init__(self, name: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.pw: Any = None
        self.closed = False

    async def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        fut = asyncio.wrap_future(self._pool.submit(fn, *args))
        return await asyncio.wait_for(fut, timeout) if timeout else await fut

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        return self._pool.submit(fn, *args).result()

    def shutdown(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=True)


class BrowserGymEnv(LanguageEnv):
    """A BrowserGym task (`browsergym/<family>.<task>`) behind agentgym's env API.

    Args:
        task: the BrowserGym task id, e.g. "browsergym/miniwob.click-button"; its family's package
            (`browsergym.miniwob`, ...) must be installed.
        max_turns: assistant turns before truncation.
        task_kwargs: more arguments for the BrowserGym task (for MiniWoB, `base_url` defaults to the local
            MiniWoB server).
        env_kwargs: more arguments for BrowserGym's `BrowserEnv` (e.g. `pre_observation_delay`, `slow_mo`).
        obs_max_chars: the flattened tree's budget in characters (None: no limit).
        step_timeout: seconds a BrowserGym reset or step may take before the episode is truncated.
        virtual_clock_ms: virtual milliseconds the page's own clock moves per reset and per step (the page's
            timers and dates stand still otherwise); "auto": 1000 for MiniWoB pages that schedule timers, the
            wall clock for the rest; None: the wall clock.
        **kwargs: more `LanguageEnv` options.
    """

    def __init__(
        self,
        task: str = "browsergym/miniwob.click-button",
        max_turns: int = 10,
        task_kwargs: dict[str, Any] | None = None,
        env_kwargs: dict[str, Any] | None = None,
        obs_max_chars: int | None = 12_000,
        step_timeout: float = 120.0,
        virtual_clock_ms: float | str | None = "auto",
        sizes: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if not task.startswith("browsergym/"):
            task = f"browsergym/{task}"
        self.task_id = task
        self.family = task.split("/", 1)[1].split(".", 1)[0]
        self.task_kwargs = dict(task_kwargs or {})
        self.env_kwargs = dict(env_kwargs or {})
        self.obs_max_chars = obs_max_chars
        self.step_timeout = step_timeout
        if virtual_clock_ms is not None and virtual_clock_ms != "auto" and not (
                isinstance(virtual_clock_ms, (int, float)) and virtual_clock_ms >= 0):
            raise ValueError(f"virtual_clock_ms must be 'auto', None or milliseconds >= 0, not {virtual_clock_ms!r}")
        self.virtual_clock_ms = virtual_clock_ms
        self._bgym: Any = None
        self._server: Any = None
        self._worker = _Worker("browsergym")

        def make_task(rng: np.random.Generator, task_id: str, split: str) -> Task:
            return Task(id=task_id, prompt=f"(BrowserGym {task}: the goal appears when the page loads)", split=split,
                        metadata={"seed": int(rng.integers(0, 2**31 - 1)), "browsergym_task": task})

        tasks = GeneratedTaskDataset(make_task, sizes or {"train": 100_000, "test": 1_000}, salt=task)
        rubric = Rubric([RewardFunc(bgym_reward, 1.0, "reward")])
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT + _describe_actions())
        kwargs.setdefault("max_output_chars", None)
        super().__init__(tasks, (), rubric, max_turns=max_turns, **kwargs)

    # ------------------------------------------------------------------ the worker thread's side

    def _make_bgym(self) -> Any:
        import gymnasium as gym
        from agentgym.tools.browser.chromium import find_chromium, playwright_browsers_dir
        from playwright.sync_api import sync_playwright

        importlib.import_module(f"browsergym.{self.family}")  # registers the family's tasks with Gymnasium
        exe = find_chromium()
        if self._worker.pw is None:
            with _GLOBAL_PW_LOCK:  # the driver reads the browsers folder when it starts
                saved = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
                os.environ["PLAYWRIGHT_BROWSERS_PATH"] = playwright_browsers_dir(exe)
                try:
                    self._worker.pw = sync_playwright().start()
                finally:
                    if saved is None:
                        os.environ.pop("PLAYWRIGHT_BROWSERS_PATH", None)
                    else:
                        os.environ["PLAYWRIGHT_BROWSERS_PATH"] = saved
        task_kwargs = dict(self.task_kwargs)
        if self.family == "miniwob" and "base_url" not in task_kwargs and "MINIWOB_URL" not in os.environ:
            from agentgym.envs.web.miniwob.tasks import MiniWoBServer

            self._server = self._server or MiniWoBServer.acquire()
            task_kwargs["base_url"] = self._server.base_url
        env_kwargs = {"headless": True, **self.env_kwargs}
        chromium_kwargs = {"executable_path": exe, **env_kwargs.pop("pw_chromium_kwargs", {})}
        bgym = gym.make(self.task_id, task_kwargs=task_kwargs, pw_chromium_kwargs=chromium_kwargs,
                        disable_env_checker=True, **env_kwargs)
        if self.virtual_clock_ms is not None:
            inner = bgym.unwrapped
            inner.task_entrypoint = _clocked_tasks(inner.task_entrypoint, self.virtual_clock_ms)
        return bgym

    def _reset_sync(self, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
        import browsergym.core as bcore

        if self._bgym is None:
            self._bgym = self._make_bgym()
        with _GLOBAL_PW_LOCK:  # BrowserGym launches its browsers from the global Playwright during reset
            bcore._set_global_playwright(self._worker.pw)
            return self._bgym.reset(seed=seed)

    def _step_sync(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        return self._bgym.step(action)

    def _close_sync(self) -> None:
        if self._bgym is not None:
            try:
                self._bgym.close()
            finally:
                self._bgym = None
        if self._worker.pw is not None:
            try:
                self._worker.pw.stop()
            finally:
                self._worker.pw = None

    # ------------------------------------------------------------------ agentgym side

    async def setup_episode(self, state: EpisodeState) -> None:
        try:
            obs, _ = await self._worker.call(self._reset_sync, int(state.task.metadata["seed"]),
                                             timeout=self.step_timeout)
        except Exception as e:  # the browser did not start or the task did not load: the episode ends
            state.data["bgym_error"] = f"{type(e).__name__}: {e}"
            return
        state.data["bgym_obs"] = obs
        state.task = replace(state.task, prompt=goal_text(obs))

    def _page_text(self, state: EpisodeState) -> str:
        if state.data.get("bgym_error"):
            return f"The browser stopped working ({state.data['bgym_error']}); the episode ends."
        return "# Current page\n" + render_observation(state.data["bgym_obs"], self.obs_max_chars)

    async def areset(self, *, seed: int | None = None,
                     options: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Reset BrowserGym's env with the task id's seed; the observation is its goal and page."""
        messages, info = await super().areset(seed=seed, options=options)
        state = self.state
        assert state is not None
        text = f"Goal: {state.task.prompt}\n\n{self._page_text(state)}"
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].get("role") == "user":
                messages[i] = {**messages[i], "content": text}
                state.messages[i] = dict(messages[i])
                break
        info["url"] = (state.data.get("bgym_obs") or {}).get("url")
        return messages, info

    async def handle_action(self, state: EpisodeState,
                            parsed: ParsedAction) -> tuple[list[dict[str, Any]], list[ToolOutput]]:
        """Pass the reply's action string to BrowserGym; answer with its new observation."""
        if state.data.get("bgym_error"):
            state.done = True
            return [{"role": "user", "content": self._page_text(state)}], []
        last = state.messages[-1].get("content") if state.messages else ""
        action = extract_action(last if isinstance(last, str) else parsed.text)
        state.data["bgym_action"] = action
        try:
            obs, reward, terminated, truncated, info = await self._worker.call(self._step_sync, action,
                                                                               timeout=self.step_timeout)
        except Exception as e:
            state.data["bgym_error"] = f"{type(e).__name__}: {e}"
            state.done = True
            return [{"role": "user", "content": self._page_text(state)}], []
        state.data["bgym_obs"] = obs
        state.data["bgym_reward"] = float(reward)
        state.data["bgym_info"] = info
        if terminated or truncated:
            state.done = True
        return [{"role": "user", "content": self._page_text(state)}], []

    def episode_info(self, state: EpisodeState) -> dict[str, Any]:
        obs = state.data.get("bgym_obs") or {}
        out: dict[str, Any] = {"url": obs.get("url"), "action": state.data.get("bgym_action"),
                               "error": obs.get("last_action_error") or None}
        if state.data.get("bgym_error"):
            out["backend_crashed"] = state.data["bgym_error"]
        return out

    async def aclose(self) -> None:
        await super().aclose()
        if self._worker.closed:
            return
        try:
            await self._worker.call(self._close_sync, timeout=60)
        finally:
            self._worker.shutdown()
            if self._server is not None:
                from agentgym.envs.web.miniwob.tasks import MiniWoBServer

                self._server = None
                MiniWoBServer.release()


def _page_uses_timers(task: Any) -> bool:
    """Whether a BrowserGym task's page schedules its own timers (MiniWoB pages, read from the package)."""
    subdomain = getattr(task, "subdomain", None)
    return bool(subdomain) and type(task).__module__.startswith("browsergym.miniwob") and _miniwob_page_uses_timers(
        subdomain)


@functools.cache
def _miniwob_page_uses_timers(subdomain: str) -> bool:  # read once per page, not at every reset
    from agentgym.envs.web.miniwob.tasks import miniwob_html_dir
    from agentgym.tools.browser.clock import uses_timers

    page = miniwob_html_dir() / "miniwob" / f"{subdomain}.html"
    return page.is_file() and uses_timers(page.read_text(errors="replace"))


def _clocked_tasks(entrypoint: Callable[..., Any], ms: float | str) -> Callable[..., Any]:
    """Wrap BrowserGym's task factory: each task's page gets the virtual clock, advanced by `ms` after the task's
    setup (before the first observation) and before each validation (after the action, before the reward and the
    observation are read)."""
    from agentgym.tools.browser.clock import VIRTUAL_CLOCK_SCRIPT, advance_clock

    def make(*args: Any, **kwargs: Any) -> Any:
        task = entrypoint(*args, **kwargs)
        step_ms = 1000.0 if ms == "auto" else float(ms)
        if ms == "auto" and not _page_uses_timers(task):
            return task
        setup, validate = task.setup, task.validate

        def clocked_setup(page: Any) -> Any:
            page.add_init_script(VIRTUAL_CLOCK_SCRIPT)
            out = setup(page=page)
            advance_clock(page, step_ms)
            return out

        def clocked_validate(page: Any, chat_messages: Any) -> Any:
            advance_clock(page, step_ms)
            return validate(page, chat_messages)

        task.setup, task.validate = clocked_setup, clocked_validate
        return task

    return make


def _describe_actions() -> str:
    try:
        from browsergym.core.action.highlevel import HighLevelActionSet
    except ImportError:
        return "click(bid), fill(bid, value), select_option(bid, options), press(bid, key_comb), scroll(dx, dy)"
    return HighLevelActionSet().describe(with_long_description=False, with_examples=True)
