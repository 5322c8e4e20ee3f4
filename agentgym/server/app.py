"""An OpenAI-compatible `/v1/chat/completions` server for a local `transformers` model.

Tools in the request are described to the model in the Hermes text protocol and the `<tool_call>` blocks it
writes come back as OpenAI `tool_calls`, so any OpenAI client (the `openai` SDK, litellm, agentgym's own
agents) can drive a small local model on CPU. Each choice also carries `token_ids` (the exact generated
tokens) and `stop_reason` (the stop string that ended it), as vLLM's server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agentgym.models.chat import LocalChatModel
from agentgym.models.context import ContextWindowExceeded
from agentgym.models.generation import SamplingParams


class FunctionSpec(BaseModel):
    """A function tool's schema, checked as the OpenAI API checks it."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["function"]
    function: FunctionSpec


class ChatRequest(BaseModel):
    """The subset of the OpenAI chat completions request this server honours (other fields are ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[ToolSpec] | None = None
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    logprobs: bool = False
    n: int = Field(1, ge=1, le=1)
    stream: bool = False
    ignore_eos: bool = False  # vLLM's extension: decode exactly max_tokens (load tests)


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": code}})


def create_app(chat: LocalChatModel, model_name: str, default_max_tokens: int = 512,
               disconnect_poll: float = 0.25) -> FastAPI:
    """Build the FastAPI app serving `chat` under the model id `model_name`.

    A request must fit the model's context window: prompt plus an explicit `max_tokens` beyond it is a 400
    naming both numbers (code `context_length_exceeded`), checked before anything is queued; without
    `max_tokens` the completion gets `default_max_tokens` or what the window leaves, whichever is less.
    A request whose client disconnects is cancelled (its batch row is freed at the next decode step).
    """
    app = FastAPI(title="agentgym model server")

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return _error(400, f"invalid request: {loc}: {first.get('msg', 'bad value')}")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0, "owned_by": "agentgym"}]}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", **chat.generator.load(), "context_window": chat.context_window}

    @app.post("/v1/chat/completions", response_model=None)
    async def completions(req: ChatRequest, request: Request) -> dict[str, Any] | JSONResponse:
        if req.model != model_name:
            return _error(404, f"The model `{req.model}` does not exist; this server serves `{model_name}`.",
                          "NotFoundError", "model_not_found")
        if req.stream:
            return _error(400, "streaming is not supported by this server; send stream=false")
        for m in req.messages:
            if m.get("role") not in ("system", "user", "assistant", "tool", "developer"):
                return _error(400, f"invalid message role {m.get('role')!r}")
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        asked = req.max_completion_tokens or req.max_tokens
        params = SamplingParams(asked or default_max_tokens, req.temperature, req.top_p, tuple(stop), req.ignore_eos)
        tools = [t.model_dump(exclude_none=True) for t in req.tools] if req.tools else None
        work = asyncio.ensure_future(chat.complete(req.messages, params, tools, strict_max_tokens=asked is not None))
        while not work.done():
            await asyncio.wait({work}, timeout=disconnect_poll)
            if not work.done() and await request.is_disconnected():
                work.cancel()  # frees the request's row in the batcher
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                return _error(499, "the client closed the request", "client_closed_request")
        try:
            out = work.result()
        except ContextWindowExceeded as e:
            return _error(400, str(e), code="context_length_exceeded")
        gen = out.generation
        message = dict(out.message)
        stop_reason = gen.stop_reason if gen.stop_reason in stop else None
        if stop_reason is not None and isinstance(message.get("content"), str):
            message["content"] = message["content"].split(stop_reason, 1)[0]  # OpenAI semantics: stop string excluded
        finish = "tool_calls" if message.get("tool_calls") else gen.finish_reason
        choice: dict[str, Any] = {
            "index": 0, "message": message, "finish_reason": finish, "stop_reason": stop_reason,
            "token_ids": gen.token_ids,
        }
        if gen.finish_reason == "time_limit":  # not an OpenAI finish reason: "length", and say why
            choice["finish_reason"] = "length"
            choice["truncated"] = (f"the server's limit of {chat.generator.request_timeout:g} s per request "
                                   "was reached")
        if req.logprobs:
            tok = chat.tokenizer
            choice["logprobs"] = {"content": [
                {"token": tok.convert_ids_to_tokens(t), "logprob": lp,
                 "bytes": list(tok.decode([t]).encode("utf-8")), "top_logprobs": []}
                for t, lp in zip(gen.token_ids, gen.logprobs, strict=True)
            ]}
        else:
            choice["logprobs"] = None
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model_name, "choices": [choice],
            "usage": {"prompt_tokens": len(gen.prompt_token_ids), "completion_tokens": len(gen.token_ids),
                      "total_tokens": len(gen.prompt_token_ids) + len(gen.token_ids)},
        }

    return app


def serve(spec: str, host: str = "127.0.0.1", port: int = 8000, name: str | None = None, seed: int | None = 0,
          max_batch_size: int = 16, max_model_len: int | None = None, lanes: int = 2,
          request_timeout: float | None = 300.0, default_max_tokens: int = 512) -> None:
    """Load the model and serve it with uvicorn until interrupted.

    Args:
        max_model_len: context window to enforce (default: the model config's).
        lanes: batches decoding at once, so short requests are answered while a long batch runs.
        request_timeout: seconds one request may decode before it ends (finish reason "length", with a
            `truncated` note on the choice); None for no limit.
        default_max_tokens: completion length when a request gives no `max_tokens`.
    """
    import uvicorn

    chat = LocalChatModel(spec, max_batch_size=max_batch_size, seed=seed, max_model_len=max_model_len, lanes=lanes,
                          request_timeout=request_timeout)
    app = create_app(chat, name or spec, default_max_tokens=default_max_tokens)
    uvicorn.run(app, host=host, port=port, log_level="warning")
