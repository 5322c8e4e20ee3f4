"""A local chat model: OpenAI messages (with native tools) in, an assistant message with exact tokens out.

Shared by `HFAgent` and the OpenAI-compatible server. Models without native tool calling get the tools
described in their system prompt in the Hermes format; `<tool_call>` blocks they write are parsed back into
OpenAI `tool_calls`, so callers see the same shape as from a hosted API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.messages import Message
from agentgym.models.generation import BatchingGenerator, Generation, SamplingParams, render_prompt
from agentgym.models.loading import load_model
from agentgym.protocols import HermesProtocol
from agentgym.tool import Tool

_HERMES = HermesProtocol()


def _schema_tools(tools: Sequence[dict[str, Any]]) -> list[Tool]:
    out = []
    for t in tools:
        fn = t.get("function", t)
        out.append(Tool(name=str(fn.get("name", "")), description=str(fn.get("description", "")),
                        parameters=dict(fn.get("parameters") or {}), fn=lambda **_: None))
    return out


def prepare_messages(messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Text-protocol messages for a chat template: native tool calls/results rewritten, tools described."""
    msgs = _HERMES.to_text_messages(messages)
    if tools:
        desc = _HERMES.render_tools(_schema_tools(tools)) or ""
        if msgs and msgs[0]["role"] == "system":
            msgs[0] = {"role": "system", "content": f"{msgs[0]['content']}\n\n{desc}".strip()}
        else:
            msgs.insert(0, {"role": "system", "content": desc})
    return msgs


@dataclass
class ChatCompletion:
    message: dict[str, Any]
    generation: Generation


class LocalChatModel:
    """A `transformers` model behind a chat interface, batching concurrent requests."""

    def __init__(self, spec: str, device: str = "cpu", dtype: str = "float32", max_batch_size: int = 16,
                 seed: int | None = None) -> None:
        self.spec = spec
        self.model, self.tokenizer = load_model(spec, dtype=dtype, device=device)
        self.generator = BatchingGenerator(self.model, self.tokenizer, max_batch_size=max_batch_size, seed=seed)

    def prompt_ids(self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None) -> list[int]:
        return render_prompt(self.tokenizer, prepare_messages(messages, tools))

    async def complete(
        self,
        messages: Sequence[dict[str, Any]],
        params: SamplingParams,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> ChatCompletion:
        stop = tuple(params.stop)
        if tools and "</tool_call>" not in stop:
            stop = (*stop, "</tool_call>")
        params = SamplingParams(params.max_new_tokens, params.temperature, params.top_p, stop)
        gen = await self.generator.generate(self.prompt_ids(messages, tools), params)
        message: dict[str, Any] = {"role": "assistant", "content": gen.text}
        if tools:
            parsed = _HERMES.parse(Message("assistant", gen.text))
            if parsed.calls:
                head = gen.text.split("<tool_call>", 1)[0].strip()
                message = Message("assistant", head or None, parsed.calls).to_openai()
        return ChatCompletion(message=message, generation=gen)

    async def aclose(self) -> None:
        await self.generator.aclose()
