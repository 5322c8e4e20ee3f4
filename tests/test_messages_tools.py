import asyncio
from typing import Annotated, Literal

import pytest

from agentgym import EpisodeState, Injected, Message, Task, Tool, ToolCall, tool
from agentgym.tool import ToolArgumentError


def test_message_round_trip_openai_format():
    raw = {
        "role": "assistant",
        "content": "calling",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
    }
    msg = Message.from_openai(raw)
    assert msg.tool_calls == [ToolCall("c1", "f", '{"x": 1}')]
    assert msg.to_openai() == raw
    tool_msg = {"role": "tool", "tool_call_id": "c1", "content": "2", "name": "f"}
    assert Message.from_openai(tool_msg).to_openai() == tool_msg


def test_message_rejects_bad_role_and_accepts_content_parts():
    with pytest.raises(ValueError, match="role"):
        Message.from_openai({"role": "robot", "content": "x"})
    msg = Message.from_openai({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
    assert msg.content == "ab"


def test_tool_call_arguments_dict_is_encoded():
    tc = ToolCall.from_openai({"id": "1", "function": {"name": "f", "arguments": {"a": 1}}})
    assert tc.parsed_arguments() == {"a": 1}
    with pytest.raises(ValueError):
        ToolCall("1", "f", "[1, 2]").parsed_arguments()


def test_schema_from_type_hints_and_google_docstring():
    def search(query: str, k: int = 3, mode: Literal["fast", "exact"] = "fast", tags: list[str] | None = None) -> str:
        """Search the index.

        Args:
            query: what to look for.
            k: how many hits.
            mode: speed/accuracy trade-off.
            tags: optional filters.
        """
        return query

    t = Tool.from_function(search)
    assert t.name == "search"
    assert t.description == "Search the index."
    props = t.parameters["properties"]
    assert props["query"] == {"description": "what to look for.", "type": "string"}
    assert props["k"]["type"] == "integer" and props["k"]["default"] == 3
    assert props["mode"]["enum"] == ["fast", "exact"]
    assert t.parameters["required"] == ["query"]
    assert t.schema["type"] == "function" and t.schema["function"]["name"] == "search"


def test_injected_arguments_are_hidden_and_filled():
    def submit(answer: str, state: Annotated[EpisodeState, Injected], env=None) -> str:
        """Submit."""
        state.submit(answer)
        return "ok"

    t = Tool.from_function(submit, injected=("env",))
    assert set(t.parameters["properties"]) == {"answer"}
    assert set(t.injected) == {"state", "env"}
    state = EpisodeState(task=Task(id="t", prompt="p"))
    assert asyncio.run(t.acall({"answer": "42"}, {"state": state, "env": None})) == "ok"
    assert state.answer == "42" and state.done


def test_validation_coerces_and_reports():
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    assert asyncio.run(add.acall({"a": "2", "b": 3})) == 5
    with pytest.raises(ToolArgumentError, match="missing required argument 'b'"):
        add.validate({"a": 1})
    with pytest.raises(ToolArgumentError, match="unexpected argument 'c'"):
        add.validate({"a": 1, "b": 2, "c": 3})
    with pytest.raises(ToolArgumentError, match="'a'"):
        add.validate({"a": "x", "b": 1})


def test_async_tool_and_decorator_options():
    @tool(timeout=1.5, concurrent=False, name="slow_echo")
    async def echo(text: str) -> str:
        """Echo."""
        await asyncio.sleep(0)
        return text

    assert echo.is_async and echo.timeout == 1.5 and not echo.concurrent and echo.name == "slow_echo"
    assert asyncio.run(echo.acall({"text": "hi"})) == "hi"
