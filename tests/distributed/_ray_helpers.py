"""Agents for the Ray rollout tests; workers import this module (the tests put its folder on PYTHONPATH)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentgym.agents.base import Agent, AgentError, AgentOutput
from agentgym.episode import current_episode

_STEP = re.compile(r"has (\d+) \w+\.|finds (\d+) more|gives away (\d+)|buys (\d+) \w+ with (\d+)")


def partial_answer(problem: str) -> int:
    """The Arithmetic-v0 answer, computed while ignoring multiplications: right on some tasks, wrong on others."""
    value = 0
    for has, found, given, boxes, each in _STEP.findall(problem):
        if has:
            value = int(has)
        elif found:
            value += int(found)
        elif given:
            value -= int(given)
        else:
            value += int(boxes) * int(each)
    return value


def reply(messages: Sequence[dict[str, Any]]) -> str:
    """A deterministic one-turn policy: answer `partial_answer` of the problem."""
    problem = next(m["content"] for m in messages if m["role"] == "user")
    return f'<tool_call>{{"name": "answer", "arguments": {{"answer": "{partial_answer(problem)}"}}}}</tool_call>'


class DyingAgent(Agent):
    """`reply`, after `delay` seconds; its worker process exits (`os._exit`) the first time it plays `task_id`
    (every time with `always`). It writes its pid to `marker` before dying, and reports its pid on every turn
    (`Trajectory.info["pid"]`)."""

    name = "dying"

    def __init__(self, marker: str, task_id: str, delay: float = 0.05, always: bool = False) -> None:
        self.marker, self.task_id, self.delay, self.always = marker, task_id, delay, always

    def _first(self) -> bool:
        """Whether this worker is to die now: always, or the first to create the claim file (atomically, so
        that two workers playing the task at the same moment do not both die)."""
        if self.always:
            return True
        try:
            os.close(os.open(self.marker + ".claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        episode = current_episode()
        if episode is not None and episode.task_id == self.task_id and self._first():
            with open(self.marker, "a") as f:
                f.write(f"{os.getpid()}\n")
            os._exit(1)
        await asyncio.sleep(self.delay)
        return AgentOutput(message={"role": "assistant", "content": reply(messages)}, info={"pid": os.getpid()})


class UnreachableAgent(Agent):
    """An agent whose `check` fails the way an API agent's does when its server is down."""

    name = "unreachable"

    async def check(self) -> None:
        raise AgentError("cannot reach the model server at http://127.0.0.1:9/v1")

    async def act(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                  stop: Sequence[str] | None = None) -> AgentOutput:
        raise AgentError("unreachable")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return None

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # /v1/models
        self._send({"object": "list", "data": [{"id": "solver", "object": "model", "created": 0, "owned_by": "t"}]})

    def do_POST(self) -> None:  # /v1/chat/completions
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = reply(request["messages"])
        self._send({"id": "c", "object": "chat.completion", "created": 0, "model": request["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})


@contextmanager
def solver_server() -> Iterator[str]:
    """A local OpenAI-compatible server whose model `solver` answers with `reply`; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
