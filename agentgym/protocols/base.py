"""The contract shared by every tool-calling protocol.

A protocol decides three things: how tools are described to a model (a system-prompt text for text-only
models, nothing for native tool calling), how an assistant message is parsed into tool calls, and how tool
results are written back as messages. Parsing never raises: every problem becomes an entry in
`ParsedAction.errors`, which the environment turns into an observation the agent can learn from.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.messages import Message, ToolCall
from agentgym.tool import Tool


@dataclass(slots=True)
class ParsedAction:
    """What an assistant message asked for."""

    message: Message
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.message.content or ""


@dataclass(slots=True)
class ToolOutput:
    """The outcome of one tool call, ready to be rendered back to the model."""

    call: ToolCall
    content: str
    is_error: bool = False
    duration: float = 0.0
    error_kind: str | None = None


class ToolProtocol(ABC):
    """How tool calls travel inside chat messages."""

    name: str = "abstract"
    #: whether tools are passed to the model API (`tools=`) instead of being described in the prompt
    native: bool = False

    def render_tools(self, tools: Sequence[Tool]) -> str | None:
        """Text that describes `tools` in a system prompt; None when the model receives schemas natively."""
        return None

    def stop_sequences(self, tools: Sequence[Tool]) -> list[str]:
        """Strings at which generation should stop so that the env can answer the call."""
        return []

    @abstractmethod
    def parse(self, message: Message, *, turn: int = 0) -> ParsedAction:
        """Extract tool calls from an assistant message. Never raises."""

    @abstractmethod
    def format_results(self, outputs: Sequence[ToolOutput]) -> list[dict[str, Any]]:
        """Render tool outputs as the chat messages the model sees next."""

    def encode_calls(self, message: Message) -> str:
        """Text form of an assistant message's native tool calls (for text-only chat templates)."""
        return message.content or ""

    def action(self, name: str, arguments: dict[str, Any], call_id: str = "call_0") -> str | dict[str, Any]:
        """One tool call as an env action in this protocol: an assistant message dict with `tool_calls` for
        native tool calling, else the call's text (what scripted policies and oracles send)."""
        import json

        message = Message("assistant", None, [ToolCall(call_id, name, json.dumps(arguments))])
        return message.to_openai() if self.native else self.encode_calls(message)

    def to_text_messages(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rewrite native tool calls and `tool` messages into this protocol's text form.

        Used by the local model server: an OpenAI client sends native `tool_calls`/`tool` messages, a
        text-only model needs them spelled out in its own protocol.
        """
        out: list[dict[str, Any]] = []
        pending: list[ToolOutput] = []

        def flush() -> None:
            if pending:
                out.extend(self.format_results(pending))
                pending.clear()

        for raw in messages:
            msg = Message.from_openai(raw)
            if msg.role == "tool":
                call = ToolCall(id=msg.tool_call_id or "", name=msg.name or "")
                pending.append(ToolOutput(call=call, content=msg.content or ""))
                continue
            flush()
            if msg.role == "assistant" and msg.tool_calls:
                out.append({"role": "assistant", "content": self.encode_calls(msg)})
            else:
                out.append({"role": msg.role, "content": msg.content or ""})
        flush()
        return out


def call_id(turn: int, index: int) -> str:
    """Deterministic ids for calls parsed from text, so that reruns produce identical transcripts."""
    return f"call_{turn}_{index}"
