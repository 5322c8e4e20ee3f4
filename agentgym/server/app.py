"""An OpenAI-compatible `/v1/chat/completions` server for a local `transformers` model.

Tools in the request are described to the model in the Hermes text protocol and the `<tool_call>` blocks it
writes come back as OpenAI `tool_calls`, so any OpenAI client (the `openai` SDK, litellm, agentgym's own
agents) can drive a small local model on CPU. Each choice also carries `token_ids` (the exact generated
tokens) and `stop_reason` (the stop string that ended it), as vLLM's server does.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agentgym.models.chat import LocalChatModel
from agentgym.models.generation import SamplingParams


class ChatRequest(BaseModel):
    """The subset of the OpenAI chat completions request this server honours (other fields are ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    logprobs: bool = False
    n: int = Field(1, ge=1, le=1)
    stream: bool = False


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": code}})


def create_app(chat: LocalChatModel, model_name: str, max_tokens_limit: int = 2048) -> FastAPI:
    """Build the FastAPI app serving `chat` under the model id `model_name`."""
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
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions", response_model=None)
    async def completions(req: ChatRequest) -> dict[str, Any] | JSONResponse:
        if req.model != model_name:
            return _error(404, f"The model `{req.model}` does not exist; this server serves `{model_name}`.",
                          "NotFoundError", "model_not_found")
        if req.stream:
            return _error(400, "streaming is not supported by this server; send stream=false")
        for m in req.messages:
            if m.get("role") not in ("system", "user", "assistant", "tool", "developer"):
                return _error(400, f"invalid message role {m.get('role')!r}")
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        max_new = min(req.max_completion_tokens or req.max_tokens or 512, max_tokens_limit)
        params = SamplingParams(max_new, req.temperature, req.top_p, tuple(stop))
        out = await chat.complete(req.messages, params, req.tools)
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
          max_batch_size: int = 16) -> None:
    """Load the model and serve it with uvicorn until interrupted."""
    import uvicorn

    chat = LocalChatModel(spec, max_batch_size=max_batch_size, seed=seed)
    app = create_app(chat, name or spec)
    uvicorn.run(app, host=host, port=port, log_level="warning")
