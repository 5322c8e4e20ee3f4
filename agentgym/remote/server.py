"""An HTTP server hosting many concurrent episodes of one env family (`agentgym serve-env`).

Routes (JSON; every answer carries the server's `boot_id`, new at each start, so clients notice a restart):

    GET    /health                      status, env id, episode counts
    GET    /info                        env id and arguments, split, splits, max_turns, render modes
    GET    /tasks?split=S               task ids (of one split)
    GET    /tasks/{task_id}             one task: id, prompt, split, answer
    POST   /episodes                    {"seed", "options"} -> new episode, reset: episode_id, observation, info
    POST   /episodes/{id}/reset         {"seed", "options"} -> observation, info
    POST   /episodes/{id}/step          {"action"} -> observation, reward, terminated, truncated, info
    GET    /episodes/{id}/render        the env's render()
    DELETE /episodes/{id}               close the episode

Errors are `{"error": {"message", "type"}, "boot_id"}`: 422 for a malformed body (the message names the
field), 404 for an unknown episode, 410 for an evicted one, 503 when the server holds `max_episodes`, 500 when
the env raised (the message is the exception; the server goes on serving the other episodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agentgym.remote.codec import encode
from agentgym.remote.host import EpisodeHost, HostError


class ResetRequest(BaseModel):
    """The body of a reset: Gymnasium's `seed` and `options`."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, ge=0, strict=True)
    options: dict[str, Any] | None = None


class StepRequest(BaseModel):
    """The body of a step: the assistant's text or an assistant message dict."""

    model_config = ConfigDict(extra="forbid")

    action: str | dict[str, Any]


def _problems(errors: list[Any]) -> str:
    """Pydantic errors as one line that names each field: `invalid request: seed: Input should be ...`."""
    parts = []
    for err in errors:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'bad value')}")
    return "invalid request: " + "; ".join(parts)


def _env_attr(env: Any, name: str, default: Any = None) -> Any:
    """An attribute of the env or of the env under its wrappers."""
    if hasattr(env, name):
        return getattr(env, name)
    return getattr(getattr(env, "unwrapped", None), name, default)


def create_app(make_env: Callable[[], Any], env_id: str, *, env_kwargs: dict[str, Any] | None = None,
               max_episodes: int = 1024, idle_timeout: float | None = 600.0) -> FastAPI:
    """The FastAPI app serving episodes of the envs `make_env` makes (see the module docstring).

    One env is made now, to check that the env can be made and to answer `/info` and `/tasks`.
    """
    template = make_env()
    tasks = _env_attr(template, "tasks")
    host = EpisodeHost(make_env, max_episodes=max_episodes, idle_timeout=idle_timeout)
    boot_id = uuid.uuid4().hex
    info = {
        "env_id": env_id, "env_kwargs": encode(env_kwargs or {}), "split": _env_attr(template, "split"),
        "splits": list(tasks.splits) if tasks is not None else [], "max_turns": _env_attr(template, "max_turns"),
        "render_modes": list(_env_attr(template, "metadata", {}).get("render_modes", [])),
        "max_episodes": max_episodes, "idle_timeout": idle_timeout,
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        evictor = asyncio.ensure_future(host.run_evictor())
        try:
            yield
        finally:
            evictor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await evictor
            await host.aclose()
            template.close()

    app = FastAPI(title=f"agentgym env server: {env_id}", lifespan=lifespan)
    app.state.host = host
    app.state.boot_id = boot_id

    def error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind},
                                                          "boot_id": boot_id})

    @app.exception_handler(RequestValidationError)
    async def _bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _problems(list(exc.errors())), "invalid_request")

    @app.exception_handler(HostError)
    async def _host_error(request: Request, exc: HostError) -> JSONResponse:
        return error(exc.status, str(exc), exc.kind)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:  # a bug here, not in an env
        return error(500, f"{request.method} {request.url.path} failed: {type(exc).__name__}: {exc}", "server_error")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "boot_id": boot_id, "env_id": env_id, **host.stats()}

    @app.get("/info")
    async def get_info() -> dict[str, Any]:
        return {"boot_id": boot_id, **info}

    @app.get("/tasks", response_model=None)
    async def task_ids(split: str | None = None) -> dict[str, Any] | JSONResponse:
        if tasks is None:
            return error(404, f"{env_id} has no task dataset", "no_tasks")
        return {"boot_id": boot_id, "ids": tasks.ids(split)}

    @app.get("/tasks/{task_id:path}", response_model=None)
    async def task(task_id: str) -> dict[str, Any] | JSONResponse:
        try:
            t = tasks.get(task_id)
        except (KeyError, AttributeError) as e:
            return error(404, str(e.args[0]) if e.args else f"unknown task id {task_id!r}", "task_not_found")
        return {"boot_id": boot_id, "task": encode({"id": t.id, "prompt": t.prompt, "split": t.split,
                                                    "answer": t.answer})}

    def reply(payload: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"boot_id": boot_id, **encode(payload)})

    @app.post("/episodes")
    async def create_episode(req: ResetRequest) -> JSONResponse:
        episode_id = await host.create()
        try:
            obs, inf = await host.reset(episode_id, req.seed, req.options)
        except HostError:
            with contextlib.suppress(HostError):
                await host.close(episode_id)
            raise
        return reply({"episode_id": episode_id, "observation": obs, "info": inf})

    @app.post("/episodes/{episode_id}/reset")
    async def reset(episode_id: str, req: ResetRequest) -> JSONResponse:
        obs, inf = await host.reset(episode_id, req.seed, req.options)
        return reply({"episode_id": episode_id, "observation": obs, "info": inf})

    @app.post("/episodes/{episode_id}/step")
    async def step(episode_id: str, req: StepRequest) -> JSONResponse:
        obs, reward, terminated, truncated, inf = await host.step(episode_id, req.action)
        return reply({"observation": obs, "reward": float(reward), "terminated": bool(terminated),
                      "truncated": bool(truncated), "info": inf})

    @app.get("/episodes/{episode_id}/render")
    async def render(episode_id: str) -> JSONResponse:
        return reply({"render": await host.render(episode_id)})

    @app.delete("/episodes/{episode_id}")
    async def close(episode_id: str) -> dict[str, Any]:
        await host.close(episode_id)
        return {"boot_id": boot_id, "closed": episode_id}

    return app


def serve_env(env_id: str, env_kwargs: dict[str, Any] | None = None, *, host: str = "127.0.0.1", port: int = 8100,
              max_episodes: int = 1024, idle_timeout: float | None = 600.0,
              on_ready: Callable[[], None] | None = None) -> None:
    """Serve episodes of the registered env `env_id` (made with `env_kwargs`) with uvicorn until interrupted.

    The env is made once before the socket opens, so bad arguments fail here, not at the first episode.
    `on_ready` is called once the app is built (the CLI prints the URL).
    """
    import uvicorn

    from agentgym.registry import full_id, make

    fid = full_id(env_id)
    kwargs = dict(env_kwargs or {})
    probe = make(fid, **kwargs)
    if "render_mode" not in kwargs and "ansi" in probe.metadata.get("render_modes", ()):
        kwargs["render_mode"] = "ansi"  # so that clients with render_mode="ansi" can see the conversation
    probe.close()
    app = create_app(lambda: make(fid, **kwargs), fid, env_kwargs=kwargs, max_episodes=max_episodes,
                     idle_timeout=idle_timeout)
    if on_ready is not None:
        on_ready()
    uvicorn.run(app, host=host, port=port, log_level="warning", backlog=4096, timeout_keep_alive=30)
