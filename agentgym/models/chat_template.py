"""What a chat template is given, and the token ids it makes: the opening prompt, and the ids between two
generated turns.

Models without native tool calling get native tools described in the Hermes text format and native tool
calls/results spelled out in it (`prepare_messages`, `text_messages`); the `<tool_call>` blocks they write
come back as OpenAI `tool_calls` (`assistant_message`).

A token-level policy (an `hf:` agent, a rollout engine) keeps each episode's context as token ids and
extends it turn by turn: the ids it generated, exactly as sampled, then the template's delta for the
observation. The episode loop records both on every turn (`Turn.context_ids`, `Turn.token_ids`), so the
trainer's token view is those records concatenated, never a re-rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.messages import Message
from agentgym.protocols import HermesProtocol
from agentgym.tool import Tool

SENTINEL = "\u27e6agentgym-assistant-turn\u27e7"


def chat_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Messages reduced to role and text content, the form the chat template is given."""
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def prompt_ids(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> list[int]:
    """Token ids of the opening messages under the chat template, ending with the generation prompt."""
    text = tokenizer.apply_chat_template(chat_messages(messages), tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def turn_delta_ids(
    tokenizer: Any,
    history: Sequence[dict[str, Any]],
    observation: Sequence[dict[str, Any]],
    generated_ids: Sequence[int],
) -> list[int]:
    """Tokens between the end of a generated turn and the start of the next generation.

    Args:
        tokenizer: the policy's tokenizer (with a chat template).
        history: all messages before the assistant turn (opening messages and earlier turns).
        observation: the messages the env answered the turn with (tool results, user replies).
        generated_ids: the turn's exact generated tokens (only its last token is looked at: when it is a
            special token the template also writes right after the content, such as `<|im_end|>`, the
            policy produced it and it is not added again).
    """
    msgs = [*chat_messages(history), {"role": "assistant", "content": SENTINEL}, *chat_messages(observation)]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    cut = text.rfind(SENTINEL)
    if cut < 0:
        raise ValueError("the chat template dropped the assistant message; cannot compute the turn delta")
    tail = text[cut + len(SENTINEL):]
    if generated_ids:
        last = int(generated_ids[-1])
        if last in set(getattr(tokenizer, "all_special_ids", [])):
            last_text = tokenizer.decode([last], skip_special_tokens=False)
            if last_text and tail.startswith(last_text):
                tail = tail[len(last_text):]
    return list(tokenizer(tail, add_special_tokens=False)["input_ids"])


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
    msgs = text_messages(messages)
    if tools:
        desc = _HERMES.render_tools(_schema_tools(tools)) or ""
        if msgs and msgs[0]["role"] == "system":
            msgs[0] = {"role": "system", "content": f"{msgs[0]['content']}\n\n{desc}".strip()}
        else:
            msgs.insert(0, {"role": "system", "content": desc})
    return msgs


def text_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with native tool calls/results rewritten into the Hermes text form (observations added to
    a running context; `prepare_messages` for a whole prompt)."""
    return _HERMES.to_text_messages(messages)


def with_tool_stop(stop: Sequence[str], tools: Sequence[dict[str, Any]] | None) -> tuple[str, ...]:
    """Stop strings, plus the end of a Hermes tool call when the model is given native tools."""
    stop = tuple(stop)
    return (*stop, "</tool_call>") if tools and "</tool_call>" not in stop else stop


def assistant_message(text: str, tools: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    """The OpenAI assistant message for generated `text`: `<tool_call>` blocks become `tool_calls` when the
    model was given native tools."""
    if tools:
        parsed = _HERMES.parse(Message("assistant", text))
        if parsed.calls:
            head = text.split("<tool_call>", 1)[0].strip()
            return Message("assistant", head or None, parsed.calls).to_openai()
    return {"role": "assistant", "content": text}
