"""`WebEnv`: a `LanguageEnv` over web pages served by a `WebBackend` (a real browser or plain HTTP).

An episode opens a fresh `PageSession`, loads the task's start URL and shows the agent the goal and the page's
accessibility text (`agentgym.tools.browser.axtext.render`, element ids from `data-agid`), optionally with a
screenshot as an OpenAI image content part. Actions are tools: `click(bid)`, `fill(bid, value)`,
`select_option(bid, options)`, `press(key, bid=None)`, `hover(bid)`, `scroll(dx, dy)`, `goto(url)`,
`go_back()`, `go_forward()`, `new_tab()`, `tab_close()`, `tab_focus(index)`, and `send_msg_to_user(text)` /
`answer(text)`, which end the episode with that answer. Any agentgym protocol works, and
`protocol="browsergym"` reads BrowserGym's function-call strings (`click('a51')`, see `envs.web.actions`).

After every turn the env reads the page, calls the reward hook `reward(page, task, session)` (sync or async,
returning `(reward, done)`; a hook with an `answer` parameter also gets the agent's answer), and answers with
the action results followed by the page. An `ActionError` or a parse error is an observation (the page is
shown again); `BackendCrashed` (or an action that outlives `action_timeout`) ends the episode truncated, with
`info["error"]` saying why. `replay(actions, task_id)` resets to a task and re-runs an action prefix, which
tree search (`agentgym.search_agents`) uses to explore from any state.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from agentgym.tools.browser.base import (
    ActionError,
    BackendCrashed,
    PageSession,
    PageState,
    WebAction,
    WebBackend,
)
from pydantic import BeforeValidator

from agentgym.env import NO_TOOL_CALL_REMIND, LanguageEnv
from agentgym.protocols import ParsedAction, ToolOutput, ToolProtocol
from agentgym.rubric import RewardFunc, Rubric
from agentgym.spaces import ChatMessages
from agentgym.state import EpisodeState
from agentgym.tasks import Task, TaskDataset
from agentgym.tool import Injected, Tool

from .actions import BrowserGymProtocol

__all__ = ["WebEnv", "WebObservations", "page_reward"]

RewardHook = Callable[..., "tuple[float, bool] | Awaitable[tuple[float, bool]]"]
Render = Callable[[PageState, "int | None"], str]

SYSTEM_PROMPT = (
    "You are a web agent. You see a web page as accessibility text in which every element you can act on has "
    "an id in brackets. Act on the page one step at a time to accomplish the goal. When the goal asks for "
    "information, or when you are done, send your final answer with send_msg_to_user (this ends the task)."
)

# what the env keeps in `EpisodeState.data` (reward rubrics may read them)
PAGE_KEY, REWARD_KEY, DONE_KEY, CRASH_KEY = "page", "web_reward", "web_done", "backend_crashed"
FRESH_PAGE_KEY = "page_after_action"


def page_reward(state: EpisodeState) -> float:
    """The last reward the env's hook returned (0 before the first)."""
    return float(state.data.get(REWARD_KEY, 0.0))


def _to_text(value: Any) -> Any:
    """Ids may come as numbers (`click(12)`): take them as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _to_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Bid = Annotated[str, BeforeValidator(_to_text)]
Options = Annotated[list[str], BeforeValidator(_to_list)]
EnvArg = Annotated[Any, Injected]
StateArg = Annotated[EpisodeState, Injected]


class WebObservations(ChatMessages):
    """Chat messages whose content may also be a list of OpenAI content parts (text and `image_url`)."""

    def contains(self, x: Any) -> bool:
        if not isinstance(x, list):
            return False
        for m in x:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                return False
            content = m.get("content")
            if isinstance(content, list):
                if not all(isinstance(p, dict) and p.get("type") in ("text", "image_url") for p in content):
                    return False
            elif content is not None and not isinstance(content, str):
                return False
        return super().contains([{**m, "content": None} for m in x])

    def __repr__(self) -> str:
        return "WebObservations()"


# ---------------------------------------------------------------------------------------------- the tools
# Each tool hands its action to `WebEnv.perform`; `env` and `state` are injected, never shown to the model.


async def click(bid: Bid, env: EnvArg, state: StateArg) -> str:
    """Click an element (a link, a button, a checkbox ...).

    Args:
        bid: the element's id, the number in brackets in the page text.
    """
    return await env.perform(state, "click", bid=bid)


async def fill(bid: Bid, value: str, env: EnvArg, state: StateArg) -> str:
    """Clear a text field and type a value into it.

    Args:
        bid: the field's id.
        value: the text to type.
    """
    return await env.perform(state, "fill", bid=bid, value=value)


async def select_option(bid: Bid, options: Options, env: EnvArg, state: StateArg) -> str:
    """Select one or more options of a drop-down list by their labels.

    Args:
        bid: the list's id.
        options: the option label(s) to select.
    """
    return await env.perform(state, "select_option", bid=bid, options=options)


async def press(key: str, env: EnvArg, state: StateArg, bid: Bid | None = None) -> str:
    """Press a key or key combination (e.g. "Enter", "Control+a"), on an element or on the focused one.

    Args:
        key: the key, as Playwright names it.
        bid: the element to press it on (default: the focused element).
    """
    return await env.perform(state, "press", key=key, bid=bid)


async def hover(bid: Bid, env: EnvArg, state: StateArg) -> str:
    """Move the mouse over an element.

    Args:
        bid: the element's id.
    """
    return await env.perform(state, "hover", bid=bid)


async def scroll(dx: float, dy: float, env: EnvArg, state: StateArg) -> str:
    """Scroll the page by some pixels (positive dy scrolls down).

    Args:
        dx: horizontal pixels.
        dy: vertical pixels.
    """
    return await env.perform(state, "scroll", dx=dx, dy=dy)


async def goto(url: str, env: EnvArg, state: StateArg) -> str:
    """Open a URL in the current tab.

    Args:
        url: the address to open.
    """
    return await env.perform(state, "goto", url=url)


async def go_back(env: EnvArg, state: StateArg) -> str:
    """Go back to the previous page."""
    return await env.perform(state, "go_back")


async def go_forward(env: EnvArg, state: StateArg) -> str:
    """Go forward to the next page (after go_back)."""
    return await env.perform(state, "go_forward")


async def new_tab(env: EnvArg, state: StateArg) -> str:
    """Open a new empty tab and make it the active one."""
    return await env.perform(state, "new_tab")


async def tab_close(env: EnvArg, state: StateArg) -> str:
    """Close the active tab."""
    return await env.perform(state, "tab_close")


async def tab_focus(index: int, env: EnvArg, state: StateArg) -> str:
    """Make another tab the active one.

    Args:
        index: the tab's position, from 0.
    """
    return await env.perform(state, "tab_focus", index=index)


async def send_msg_to_user(text: str, env: EnvArg, state: StateArg) -> str:
    """Send your final answer or message to the user; this ends the task.

    Args:
        text: the answer.
    """
    return env.finish(state, text)


async def answer(text: str, env: EnvArg, state: StateArg) -> str:
    """Give the final answer (same as send_msg_to_user); this ends the task.

    Args:
        text: the answer.
    """
    return env.finish(state, text)


ACTION_FUNCTIONS: tuple[Callable[..., Awaitable[str]], ...] = (
    click, fill, select_option, press, hover, scroll, goto, go_back, go_forward, new_tab, tab_close, tab_focus,
    send_msg_to_user, answer,
)


def _describe(action: WebAction) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in action.args.items())
    return f"{action.name}({args})"


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return (text[:limit] + f"\n[... page cut: {len(text) - limit} more characters not shown; scroll, follow links "
            "or use goto to see other parts]")


class WebEnv(LanguageEnv):
    """Web tasks in a browser (or the HTTP backend) as a Gymnasium env for LLM agents.

    Args:
        tasks: the task dataset; each task's `prompt` is the goal shown to the agent.
        backend: a `WebBackend`, or a zero-argument factory of one (made at the first reset, closed by
            `close()`). A backend passed as an instance is shared: the env leaves it open unless
            `close_backend=True`.
        start_url: the URL an episode opens, per task (a function of the task, or one fixed URL; default:
            `task.metadata["start_url"]`).
        reward: the reward hook `reward(page, task, session) -> (reward, done)`, sync or async, called after
            every turn (and with `answer=` when its signature takes one and the agent answered); or a
            `Rubric`, which may read what the env stores in `state.data` (`"page"`: the last `PageState`,
            `"web_reward"`/`"web_done"`: the hook's last result). The episode's reward is the hook's last
            reward, scored when it ends.
        protocol: "browsergym" (BrowserGym function-call strings, the default), "hermes", "tags", "native"
            or a `ToolProtocol`.
        max_turns: assistant turns before the episode is truncated.
        obs_max_chars: the page text's budget (a token budget approximated by characters); longer pages are
            cut with a note saying how much is hidden. None: no limit.
        screenshot: add the page's screenshot as an `image_url` content part of each page message (the
            backend must support screenshots).
        render: `render(page, max_chars) -> str`, the page text (default:
            `agentgym.tools.browser.axtext.render`).
        action_timeout: seconds an action, a page load or a reward hook may take; past it the backend
            is taken as crashed.
        close_backend: close a backend passed as an instance when the env closes.
        **kwargs: more `LanguageEnv` options (system_prompt, split, ...); `on_no_tool_call` defaults to
            "remind" (a reply without an action gets a reminder and the page again), `max_output_chars` to None.
    """

    def __init__(
        self,
        tasks: TaskDataset,
        backend: WebBackend | Callable[[], WebBackend],
        start_url: Callable[[Task], str] | str | None = None,
        reward: RewardHook | Rubric | None = None,
        *,
        protocol: str | ToolProtocol = "browsergym",
        max_turns: int = 15,
        obs_max_chars: int | None = 12_000,
        screenshot: bool = False,
        render: Render | None = None,
        action_timeout: float = 60.0,
        close_backend: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(reward, Rubric):
            rubric, self.reward_hook = reward, None
        else:
            rubric, self.reward_hook = Rubric([RewardFunc(page_reward, 1.0, "reward")]), reward
        self._hook_takes_answer = False
        if self.reward_hook is not None:
            try:
                params = inspect.signature(self.reward_hook).parameters.values()
            except (TypeError, ValueError):  # a callable without a readable signature: no answer keyword
                params = []  # type: ignore[assignment]
            self._hook_takes_answer = any(p.name == "answer" or p.kind is p.VAR_KEYWORD for p in params)
        if isinstance(backend, WebBackend):
            self._backend: WebBackend | None = backend
            self._backend_factory: Callable[[], WebBackend] | None = None
            self._own_backend = close_backend
        elif callable(backend):
            self._backend, self._backend_factory, self._own_backend = None, backend, True
        else:
            raise TypeError("backend must be a WebBackend or a zero-argument factory of one")
        self.start_url = start_url
        self.obs_max_chars = obs_max_chars
        self.screenshot = screenshot
        self._render = render
        self.action_timeout = action_timeout
        self._session: PageSession | None = None
        kwargs.setdefault("system_prompt", SYSTEM_PROMPT)
        kwargs.setdefault("on_no_tool_call", NO_TOOL_CALL_REMIND)
        kwargs.setdefault("max_output_chars", None)
        tools = [Tool.from_function(f, timeout=None, concurrent=False) for f in ACTION_FUNCTIONS]
        super().__init__(tasks, tools, rubric, protocol=protocol, max_turns=max_turns, **kwargs)
        self.observation_space = WebObservations()

    def set_protocol(self, protocol: str | ToolProtocol) -> None:
        """As `LanguageEnv.set_protocol`, plus "browsergym" for BrowserGym's function-call strings."""
        super().set_protocol(BrowserGymProtocol() if protocol == "browsergym" else protocol)

    # ------------------------------------------------------------------ pages

    def url_for(self, task: Task) -> str:
        """The start URL of `task`."""
        if callable(self.start_url):
            return self.start_url(task)
        if isinstance(self.start_url, str):
            return self.start_url
        url = task.metadata.get("start_url")
        if not url:
            raise ValueError(f"task {task.id!r} has no start URL: pass start_url= or set metadata['start_url']")
        return str(url)

    def render_page(self, page: PageState) -> str:
        """The page as the agent reads it: the renderer's text (address, title, tabs, then the accessibility
        outline), cut to `obs_max_chars` with a note saying how much is hidden."""
        render = self._render
        if render is None:
            from agentgym.tools.browser.axtext import render as axtext_render

            render = self._render = axtext_render
        return _cut(render(page, self.obs_max_chars), self.obs_max_chars)

    def page_content(self, text: str, page: PageState | None) -> str | list[dict[str, Any]]:
        """Message content for `text`, with the page's screenshot as an image part when screenshots are on."""
        if not self.screenshot or page is None or not page.screenshot:
            return text
        url = "data:image/png;base64," + base64.b64encode(page.screenshot).decode("ascii")
        return [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]

    async def _get_backend(self) -> WebBackend:
        if self._backend is None:
            assert self._backend_factory is not None
            self._backend = self._backend_factory()
        return self._backend

    async def _timed(self, coro: Awaitable[Any], what: str) -> Any:
        """Await `coro` within `action_timeout`; a timeout is a crashed backend (never hang)."""
        try:
            return await asyncio.wait_for(coro, self.action_timeout)
        except TimeoutError:
            raise BackendCrashed(f"{what} took longer than {self.action_timeout:g} s") from None

    # ------------------------------------------------------------------ episode hooks

    async def setup_episode(self, state: EpisodeState) -> None:
        """A fresh page session on the task's start URL (one retry on a crash, which restarts the backend)."""
        await self._close_session()
        url = self.url_for(state.task)
        error = ""
        for _ in range(2):
            try:
                backend = await self._get_backend()
                self._session = await self._timed(backend.new_session(), "opening a page session")
                await self._timed(self._session.goto(url), f"loading {url}")
                state.data[PAGE_KEY] = await self._timed(self._session.state(screenshot=self.screenshot),
                                                         "reading the page")
                return
            except (BackendCrashed, ActionError) as e:
                error = f"{type(e).__name__}: {e}"
                await self._close_session()
        state.data[CRASH_KEY] = f"the start page could not be opened ({error})"

    async def teardown_episode(self, state: EpisodeState) -> None:
        await self._close_session()

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                await asyncio.wait_for(session.close(), self.action_timeout)
            except Exception:  # a dead browser cannot close its context: nothing left to release
                pass

    def episode_info(self, state: EpisodeState) -> dict[str, Any]:
        """Per step: the page URL, the actions run this turn (`action`), the turn's error (an action or parse
        error, else None), and why a crash ended the episode (`backend_crashed`)."""
        page = state.data.get(PAGE_KEY)
        info: dict[str, Any] = {
            "url": page.url if isinstance(page, PageState) else None,
            "action": list(state.data.get("turn_actions", [])),
            "error": state.data.get("turn_error"),
        }
        if state.data.get("reward_error"):
            info["reward_error"] = state.data["reward_error"]
        if state.data.get(CRASH_KEY):
            info["backend_crashed"] = state.data[CRASH_KEY]
        return info

    # ------------------------------------------------------------------ actions

    async def perform(self, state: EpisodeState, name: str, **args: Any) -> str:
        """Run one page action for a tool; `ActionError` propagates as the tool's error, a crash ends the
        episode."""
        if state.data.get(CRASH_KEY) or state.done:
            return "Not run: the episode has ended."
        action = WebAction(name, {k: v for k, v in args.items() if v is not None})
        state.data.setdefault("turn_actions", []).append(_describe(action))
        if self._session is None:
            raise ActionError("no page is open")
        try:
            # the page after the action: read once here, reused by `handle_action` when nothing follows it
            state.data[FRESH_PAGE_KEY] = await self._timed(self._session.act(action), _describe(action))
        except ActionError as e:
            state.data["turn_error"] = f"{_describe(action)}: {e}"
            raise
        except BackendCrashed as e:
            self._crash(state, f"{_describe(action)}: {e}")
            raise
        return "done."

    def finish(self, state: EpisodeState, text: str) -> str:
        """End the episode with `text` as the answer (send_msg_to_user / answer)."""
        if state.data.get(CRASH_KEY) or state.done:
            return "Not run: the episode has ended."
        state.data.setdefault("turn_actions", []).append(f"send_msg_to_user({text!r})")
        state.submit(text)
        return "Message sent; the task ends."

    def _crash(self, state: EpisodeState, why: str) -> None:
        state.data[CRASH_KEY] = why
        state.done = True

    async def _call_hook(self, state: EpisodeState, page: PageState) -> None:
        if self.reward_hook is None:
            return
        kwargs = {"answer": state.answer} if self._hook_takes_answer else {}
        try:
            out = self.reward_hook(page, state.task, self._session, **kwargs)
            if inspect.isawaitable(out):
                out = await self._timed(out, "the reward hook")
            value, done = out
        except BackendCrashed as e:
            self._crash(state, f"reward hook: {e}")
            return
        except Exception as e:  # a broken grader scores 0 and says why; it never kills the episode
            state.data["reward_error"] = f"{type(e).__name__}: {e}"
            return
        state.data[REWARD_KEY], state.data[DONE_KEY] = float(value), bool(done)
        if done:
            state.done = True

    async def handle_action(self, state: EpisodeState,
                            parsed: ParsedAction) -> tuple[list[dict[str, Any]], list[ToolOutput]]:
        """The action results, then the page as it is now (also after errors), with the reward hook run."""
        observation, outputs = await super().handle_action(state, parsed)
        if parsed.errors and not state.data.get("turn_error"):
            state.data["turn_error"] = "; ".join(parsed.errors)
        page: PageState | None = None
        fresh = state.data.pop(FRESH_PAGE_KEY, None)  # the last action's page (a failed action changes nothing)
        if not state.data.get(CRASH_KEY) and self._session is not None:
            try:
                if isinstance(fresh, PageState) and not self.screenshot:
                    page = fresh
                else:
                    page = await self._timed(self._session.state(screenshot=self.screenshot), "reading the page")
                state.data[PAGE_KEY] = page
                await self._call_hook(state, page)
            except BackendCrashed as e:
                self._crash(state, f"reading the page: {e}")
                page = None
        if state.data.get(CRASH_KEY):
            text = f"The browser stopped working ({state.data[CRASH_KEY]}); the episode ends."
            content: str | list[dict[str, Any]] = text
        else:
            assert page is not None
            text = "# Current page\n" + self.render_page(page)
            content = self.page_content(text, page)
        last = observation[-1] if observation else None
        if last is not None and last.get("role") == "user" and isinstance(last.get("content"), str):
            merged = last["content"] + "\n\n" + text
            observation[-1] = {**last, "content": self.page_content(merged, page) if page is not None else merged}
        else:
            observation.append({"role": "user", "content": content})
        return observation, outputs

    # ------------------------------------------------------------------ Gymnasium API

    async def areset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Start an episode: a new page session on the task's start URL; the observation is the goal and the
        page."""
        messages, info = await super().areset(seed=seed, options=options)
        state = self.state
        assert state is not None
        page = state.data.get(PAGE_KEY)
        if state.data.get(CRASH_KEY):
            text = f"Goal: {state.task.prompt}\n\nThe browser stopped working ({state.data[CRASH_KEY]})."
            content: str | list[dict[str, Any]] = text
        else:
            text = f"Goal: {state.task.prompt}\n\n# Current page\n" + self.render_page(page)
            content = self.page_content(text, page)
        for i in range(len(messages) - 1, -1, -1):  # the opening user message: the goal with the page
            if messages[i].get("role") == "user":
                messages[i] = {**messages[i], "content": content}
                state.messages[i] = dict(messages[i])
                break
        info.update(self.episode_info(state))
        return messages, info

    async def astep(self, action: Any) -> tuple[list[dict[str, Any]], float, bool, bool, dict[str, Any]]:
        """One turn; a crashed backend ends the episode truncated with `info["error"]` saying why."""
        state = self.state
        if state is not None and not self._finished:
            state.data["turn_actions"], state.data["turn_error"] = [], None
            if state.data.get(CRASH_KEY) and not state.done:  # the start page never opened
                state.done = True
        obs, reward, terminated, truncated, info = await super().astep(action)
        if state is not None and state.data.get(CRASH_KEY):
            terminated, truncated = False, True
            info["error"] = f"backend crashed: {state.data[CRASH_KEY]}"
            info["success"] = False
        return obs, reward, terminated, truncated, info

    async def areplay(
        self, actions: Sequence[Any], task_id: str, *, seed: int | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Reset to `task_id` and re-run `actions` (assistant texts or message dicts); returns the observation
        of the last step (the reset's when `actions` is empty) and that step's info, plus `terminated`,
        `truncated`, `return` (the rewards summed) and `replayed` (actions run; fewer when the episode ended
        early)."""
        from agentgym.search_agents.tree_search import replay_env

        return await replay_env(self, actions, task_id, seed=seed)

    def replay(
        self, actions: Sequence[Any], task_id: str, *, seed: int | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Synchronous `areplay`."""
        return self._runner.run(self.areplay(actions, task_id, seed=seed))

    async def aclose(self) -> None:
        await super().aclose()
        await self._close_session()
        backend = self._backend
        if backend is not None and self._own_backend:
            self._backend = None
            try:
                await asyncio.wait_for(backend.aclose(), self.action_timeout)
            except Exception:
                pass
