"""`RemoteEnv`: a Gymnasium env whose episodes run on an `agentgym serve-env` server.

It has the chat spaces and the async twins of `LanguageEnv`, and exposes the served env's task dataset
(`tasks`: ids, splits, tasks), `split` and `max_turns`, so eval, `collect` and the trainers use it exactly like
a local env: `agentgym.make("remote:http://127.0.0.1:8100/Arithmetic-v0")`.

Each instance owns one remote episode at a time: made on the first reset, reused by later resets, closed by
`close`/`aclose`. The sync methods use one process-wide `httpx.Client`; the async twins the instance's own
`httpx.AsyncClient` with one connection (made per event loop; one pool shared by hundreds of concurrent
episodes costs httpx O(pool) per request, 8x the client CPU at 64 episodes), or the client passed in. Every
request has a timeout;
every failure is a `RemoteEnvError` that says what happened: the server cannot be reached, did not answer in
time, restarted (the episode is lost), evicted the episode, refused a new one, or the env raised there. A reset
after the episode was lost starts a new one.
"""

from __future__ import annotations

import asyncio
import atexit
import re
import threading
from typing import Any
from urllib.parse import quote

import gymnasium as gym
import httpx
import numpy as np
from gymnasium.envs.registration import EnvSpec

from agentgym.remote.codec import decode, encode
from agentgym.spaces import ChatAction, ChatMessages
from agentgym.tasks import Task

PREFIX = "remote:"
_ENV_ID = re.compile(r"^[\w.:-]+-v\d+$")
_LOST = ("episode_not_found", "episode_evicted", "server_restarted")


class RemoteEnvError(RuntimeError):
    """A remote env call failed; `kind` says how (e.g. "unreachable", "timeout", "server_restarted",
    "episode_evicted", "too_many_episodes", "env_error", "invalid_request") and `status` is the HTTP status
    (None without an answer)."""

    def __init__(self, message: str, kind: str = "error", status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def split_url(url: str) -> tuple[str, str | None]:
    """`http://host:port[/prefix]/ENV_ID` -> (base URL, env id or None)."""
    url = url.removeprefix(PREFIX).rstrip("/")
    m = re.match(r"^(https?://[^/]+)(/.*)?$", url)
    if m is None:
        raise ValueError(f"a remote env URL looks like http://HOST:PORT/ENV_ID, got {url!r}")
    origin, path = m.group(1), (m.group(2) or "").strip("/")
    parts = path.split("/") if path else []
    if parts and _ENV_ID.match(parts[-1]):  # ".../Name-v0" or ".../agentgym/Name-v0"; the rest is a path prefix
        n = 2 if len(parts) >= 2 and parts[-2] == "agentgym" else 1
        prefix = "/".join(parts[:-n])
        return origin + (f"/{prefix}" if prefix else ""), "/".join(parts[-n:])
    return origin + (f"/{path}" if path else ""), None


# ---------------------------------------------------------------------- shared HTTP clients

_sync_client: httpx.Client | None = None
_sync_lock = threading.Lock()


def _get_sync_client() -> httpx.Client:
    global _sync_client
    with _sync_lock:
        if _sync_client is None:
            _sync_client = httpx.Client(limits=httpx.Limits(max_connections=64))
            atexit.register(_sync_client.close)
        return _sync_client


class _ServerView:
    """What a client knows of a server beyond episodes: `/info` and task ids (shared by the instances)."""

    def __init__(self, base: str, info: dict[str, Any]) -> None:
        self.base = base
        self.info = info
        self.ids: dict[str | None, list[str]] = {}


_views: dict[str, _ServerView] = {}


class RemoteTasks:
    """The served env's task dataset, read through the server (`ids`, `splits`, `size`, `get`, `sample`)."""

    def __init__(self, env: RemoteEnv) -> None:
        self._env = env

    @property
    def splits(self) -> list[str]:
        return list(self._env._view().info.get("splits") or [])

    def ids(self, split: str | None = None) -> list[str]:
        """Task ids, in dataset order, optionally of one split (fetched once per split)."""
        view = self._env._view()
        if split not in view.ids:
            params = {"split": split} if split is not None else {}
            view.ids[split] = list(self._env._request("GET", "/tasks", params=params)["ids"])
        return view.ids[split]

    def size(self, split: str | None = None) -> int:
        return len(self.ids(split))

    def get(self, task_id: str) -> Task:
        """The task (id, prompt, split, answer); `KeyError` for an unknown id, as a local dataset raises."""
        try:
            data = self._env._request("GET", f"/tasks/{quote(str(task_id), safe='')}")["task"]
        except RemoteEnvError as e:
            if e.status == 404:
                raise KeyError(f"unknown task id {task_id!r}") from None
            raise
        return Task(id=data["id"], prompt=data["prompt"], answer=decode(data.get("answer")), split=data["split"])

    def sample(self, rng: np.random.Generator, split: str | None = None) -> Task:
        ids = self.ids(split) or self.ids()
        if not ids:
            raise ValueError("the task dataset is empty")
        return self.get(ids[int(rng.integers(len(ids)))])

    def __len__(self) -> int:
        return self.size()


# ---------------------------------------------------------------------- the env


class RemoteEnv(gym.Env[list[dict[str, Any]], Any]):
    """A Gymnasium env (with `areset`/`astep`/`aclose`) whose episodes run on an env server.

    Args:
        url: `http://HOST:PORT/ENV_ID` (the env id is checked against the server's) or `http://HOST:PORT`.
        timeout: seconds any one request may take (a step runs the env's tools: allow for them).
        connect_timeout: seconds to open a connection.
        render_mode: None or "ansi" (the server env's `render()`).
        async_client: an `httpx.AsyncClient` to use instead of the instance's own (the caller closes it).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, url: str, *, timeout: float = 60.0, connect_timeout: float = 10.0,
                 render_mode: str | None = None, async_client: httpx.AsyncClient | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unsupported render_mode {render_mode!r}")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeout and connect_timeout must be > 0 seconds")
        self.base_url, self.env_id = split_url(url)
        self.url = url.removeprefix(PREFIX)
        self.render_mode = render_mode
        self.timeout = timeout
        self._timeout = httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        self._given_client = async_client
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self.observation_space = ChatMessages()
        self.action_space = ChatAction()
        self.tasks = RemoteTasks(self)
        self.episode_id: str | None = None
        self.boot_id: str | None = None
        self._finished = True

    # ------------------------------------------------------------------ what the server serves

    def _view(self) -> _ServerView:
        view = _views.get(self.base_url)
        if view is None:
            view = _views[self.base_url] = _ServerView(self.base_url, self._request("GET", "/info"))
        served = str(view.info.get("env_id"))
        if self.env_id is not None and served not in (self.env_id, f"agentgym/{self.env_id}"):
            raise RemoteEnvError(f"the env server at {self.base_url} serves {served}, not {self.env_id}",
                                 "wrong_env")
        return view

    def connect(self) -> RemoteEnv:
        """Check now that the server is up and serves the env the URL names (`make` does this)."""
        self._view()
        return self

    @property
    def split(self) -> str | None:
        """The split the served env samples from when a reset names no task."""
        return self._view().info.get("split")

    @property
    def max_turns(self) -> int | None:
        """The served env's turn limit."""
        return self._view().info.get("max_turns")

    @property
    def server_info(self) -> dict[str, Any]:
        """The server's `/info`: env id and arguments, splits, limits."""
        return dict(self._view().info)

    # ------------------------------------------------------------------ Gymnasium API

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Start an episode on the server (the first reset creates it); see `LanguageEnv.reset`."""
        super().reset(seed=seed)
        body = self._reset_body(seed, options)
        try:
            data = self._request(*self._reset_route(), json=body)
        except RemoteEnvError as e:
            if e.kind not in _LOST:
                raise
            data = self._request("POST", "/episodes", json=body)  # the old episode is gone: start a new one
        return self._after_reset(data)

    async def areset(self, *, seed: int | None = None,
                     options: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Async twin of `reset`."""
        super().reset(seed=seed)
        body = self._reset_body(seed, options)
        try:
            data = await self._arequest(*self._reset_route(), json=body)
        except RemoteEnvError as e:
            if e.kind not in _LOST:
                raise
            data = await self._arequest("POST", "/episodes", json=body)
        return self._after_reset(data)

    def step(self, action: Any) -> tuple[list[dict[str, Any]], float, bool, bool, dict[str, Any]]:
        """Apply one assistant turn on the server; see `LanguageEnv.step`."""
        return self._after_step(self._request("POST", self._step_path(), json={"action": encode(action)}))

    async def astep(self, action: Any) -> tuple[list[dict[str, Any]], float, bool, bool, dict[str, Any]]:
        """Async twin of `step`."""
        return self._after_step(await self._arequest("POST", self._step_path(), json={"action": encode(action)}))

    def render(self) -> str | None:
        """With render_mode "ansi", the served env's rendering of the episode's conversation."""
        if self.render_mode != "ansi":
            return None
        if self.episode_id is None:
            return ""
        return self._request("GET", f"/episodes/{self.episode_id}/render")["render"]

    def close(self) -> None:
        """Close the remote episode (errors are ignored: a gone server holds nothing to close)."""
        episode, self.episode_id, self._finished = self.episode_id, None, True
        if episode is not None:
            try:
                self._request("DELETE", f"/episodes/{episode}", timeout=min(self.timeout, 5.0))
            except RemoteEnvError:
                pass

    async def aclose(self) -> None:
        """Async twin of `close`; also closes the instance's HTTP client."""
        episode, self.episode_id, self._finished = self.episode_id, None, True
        if episode is not None:
            try:
                await self._arequest("DELETE", f"/episodes/{episode}", timeout=min(self.timeout, 5.0))
            except RemoteEnvError:
                pass
        client, self._aclient, self._aclient_loop = self._aclient, None, None
        if client is not None and not client.is_closed:
            try:
                await client.aclose()
            except RuntimeError:  # made on an event loop that is gone
                pass

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _reset_body(seed: int | None, options: dict[str, Any] | None) -> dict[str, Any]:
        return {"seed": None if seed is None else int(seed), "options": encode(options) if options else None}

    def _reset_route(self) -> tuple[str, str]:
        if self.episode_id is None:
            return "POST", "/episodes"
        return "POST", f"/episodes/{self.episode_id}/reset"

    def _after_reset(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        self.episode_id, self.boot_id, self._finished = data["episode_id"], data["boot_id"], False
        return decode(data["observation"]), decode(data["info"])

    def _step_path(self) -> str:
        if self.episode_id is None or self._finished:
            raise RuntimeError("the episode is over or was never started: call reset() first")
        return f"/episodes/{self.episode_id}/step"

    def _after_step(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]], float, bool, bool, dict[str, Any]]:
        terminated, truncated = bool(data["terminated"]), bool(data["truncated"])
        if terminated or truncated:
            self._finished = True
        return decode(data["observation"]), float(data["reward"]), terminated, truncated, decode(data["info"])

    def _async_client(self) -> httpx.AsyncClient:
        if self._given_client is not None:
            return self._given_client
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:  # connections belong to one event loop
            one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            # plain http needs no CA bundle: loading one costs ~1 ms per client
            self._aclient = httpx.AsyncClient(limits=one, verify=not self.base_url.startswith("http://"))
            self._aclient_loop = loop
        return self._aclient

    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                 timeout: float | None = None) -> dict[str, Any]:
        try:
            resp = _get_sync_client().request(method, self.base_url + path, json=json, params=params,
                                              timeout=self._timeout if timeout is None else timeout)
        except httpx.HTTPError as e:
            raise self._transport_error(e, method, path) from None
        return self._answer(resp, method, path)

    async def _arequest(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                        timeout: float | None = None) -> dict[str, Any]:
        try:
            resp = await self._async_client().request(method, self.base_url + path, json=json, params=params,
                                                      timeout=self._timeout if timeout is None else timeout)
        except httpx.HTTPError as e:
            raise self._transport_error(e, method, path) from None
        return self._answer(resp, method, path)

    def _lost(self) -> str:
        return f"; episode {self.episode_id} is lost" if self.episode_id is not None and not self._finished else ""

    def _transport_error(self, e: httpx.HTTPError, method: str, path: str) -> RemoteEnvError:
        if isinstance(e, httpx.ConnectTimeout):  # the request was not sent: the episode is still there
            return RemoteEnvError(f"could not connect to the env server at {self.base_url} within "
                                  f"{self._timeout.connect:g} s ({method} {path})", "timeout")
        if isinstance(e, httpx.TimeoutException):
            return RemoteEnvError(f"the env server at {self.base_url} did not answer {method} {path} within "
                                  f"{self.timeout:g} s ({type(e).__name__}){self._lost()}", "timeout")
        if isinstance(e, httpx.ConnectError):
            return RemoteEnvError(f"cannot reach the env server at {self.base_url} ({e or type(e).__name__}); is "
                                  f"`agentgym serve-env` running there?{self._lost()}", "unreachable")
        return RemoteEnvError(f"{method} {self.base_url}{path} failed: {type(e).__name__}: {e}{self._lost()}",
                              "transport")

    def _answer(self, resp: httpx.Response, method: str, path: str) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or "boot_id" not in data:
            raise RemoteEnvError(f"{method} {self.base_url}{path}: HTTP {resp.status_code}, not an agentgym env server "
                                 f"answer: {resp.text[:200]!r}", "bad_answer", resp.status_code)
        if self.boot_id is not None and data["boot_id"] != self.boot_id and self.episode_id is not None:
            episode, self.episode_id, self._finished = self.episode_id, None, True
            self.boot_id = data["boot_id"]
            _views.pop(self.base_url, None)
            raise RemoteEnvError(f"the env server at {self.base_url} restarted; episode {episode} is lost",
                                 "server_restarted", resp.status_code)
        if resp.status_code >= 400:
            err = data.get("error") or {}
            kind = str(err.get("type") or "error")
            if kind in _LOST:
                self.episode_id, self._finished = None, True
            raise RemoteEnvError(f"env server at {self.base_url}: {err.get('message') or resp.text[:200]}", kind,
                                 resp.status_code)
        return data


class _RemoteSpec(EnvSpec):
    """The spec of a remote env: its id is the `remote:` URL, which is not a Gymnasium id (so not parsed)."""

    def __post_init__(self) -> None:
        self.namespace, self.name, self.version = None, self.id, None

    def make(self, **kwargs: Any) -> RemoteEnv:
        """Another env like the one this spec describes (what `check_env` and `env_factory` call)."""
        return make_remote(self.id, **{**self.kwargs, **kwargs})


def make_remote(env_id: str, **kwargs: Any) -> RemoteEnv:
    """`agentgym.make("remote:URL", ...)`: a connected `RemoteEnv` with a `spec` (so that more can be made).

    Keyword arguments are `RemoteEnv`'s (timeout, render_mode, ...); the env's own arguments are fixed when the
    server starts (`agentgym serve-env ENV_ID --env-arg KEY=VALUE`).
    """
    import inspect

    allowed = set(inspect.signature(RemoteEnv.__init__).parameters) - {"self", "url"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"RemoteEnv got unexpected argument(s) {unknown}; it takes {sorted(allowed)}. The env's own "
                        "arguments are set where the server starts: agentgym serve-env ENV_ID --env-arg KEY=VALUE")

    env = RemoteEnv(env_id, **kwargs).connect()
    env.spec = _RemoteSpec(id=env_id, entry_point="agentgym.remote:RemoteEnv", kwargs=dict(kwargs),
                           disable_env_checker=True, order_enforce=False)
    return env
