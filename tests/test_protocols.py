import json

from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym import Message, Tool
from agentgym.protocols import HermesProtocol, NativeProtocol, TagProtocol, ToolOutput, get_protocol


def python(code: str) -> str:
    """Run code."""
    return code


def search(query: str, k: int = 3) -> str:
    """Search."""
    return query


def lookup(table: str, key: str) -> str:
    """Two required args."""
    return key


TOOLS = [Tool.from_function(python), Tool.from_function(search), Tool.from_function(lookup)]


def test_hermes_parses_multiple_calls_and_reports_bad_ones():
    p = HermesProtocol()
    text = (
        'thinking <tool_call>\n{"name": "search", "arguments": {"query": "a } b"}}\n</tool_call>'
        '<tool_call>{"name": "python", "arguments": "{\\"code\\": \\"1\\"}"}</tool_call>'
        "<tool_call>{not json}</tool_call><tool_call>[1]</tool_call><tool_call>{\"arguments\": {}}</tool_call>"
    )
    parsed = p.parse(Message("assistant", text), turn=3)
    assert [c.name for c in parsed.calls] == ["search", "python"]
    assert json.loads(parsed.calls[0].arguments) == {"query": "a } b"}
    assert json.loads(parsed.calls[1].arguments) == {"code": "1"}
    assert parsed.calls[0].id == "call_3_0"
    assert len(parsed.errors) == 3
    assert "not valid JSON" in parsed.errors[0]


def test_hermes_unclosed_trailing_block_accepted_when_stop_string_stripped():
    parsed = HermesProtocol().parse(Message("assistant", '<tool_call>{"name": "python", "arguments": {"code": "x"}}'))
    assert [c.name for c in parsed.calls] == ["python"]
    strict = HermesProtocol(allow_unclosed=False).parse(Message("assistant", "<tool_call>{}"))
    assert strict.errors and not strict.calls


def test_hermes_round_trip_native_messages():
    p = HermesProtocol()
    msgs = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "search", "arguments": '{"query": "x"}'}}]},
        {"role": "tool", "tool_call_id": "a", "content": "result"},
    ]
    text_msgs = p.to_text_messages(msgs)
    assert [m["role"] for m in text_msgs] == ["user", "assistant", "user"]
    again = p.parse(Message("assistant", text_msgs[1]["content"]))
    assert again.calls[0].name == "search" and json.loads(again.calls[0].arguments) == {"query": "x"}
    assert "<tool_response>\nresult\n</tool_response>" in text_msgs[2]["content"]


def test_tags_single_argument_multi_argument_and_free_text():
    p = TagProtocol(TOOLS, result_tag="information")
    text = "<think>use <b>html</b></think><search>capital of X</search> then <python>print('<b>')</python>" \
           '<lookup>{"table": "t", "key": "k"}</lookup><lookup>oops</lookup>'
    parsed = p.parse(Message("assistant", text))
    assert [c.name for c in parsed.calls] == ["search", "python", "lookup"]
    assert json.loads(parsed.calls[0].arguments) == {"query": "capital of X"}
    assert json.loads(parsed.calls[1].arguments) == {"code": "print('<b>')"}
    assert len(parsed.errors) == 1 and "JSON" in parsed.errors[0]
    out = p.format_results([ToolOutput(parsed.calls[0], "doc")])
    assert out == [{"role": "user", "content": "<information>doc</information>"}]
    assert p.stop_sequences(TOOLS) == ["</python>", "</search>", "</lookup>"]


def test_tag_mapping_renames_tags():
    p = TagProtocol(TOOLS, tags={"code": "python"})
    parsed = p.parse(Message("assistant", "<code>1+1</code>"))
    assert parsed.calls[0].name == "python"
    assert "<code>" in (p.render_tools(TOOLS) or "")


def test_native_fills_missing_ids_and_flags_nameless_calls():
    msg = Message.from_openai({"role": "assistant", "content": None, "tool_calls": [
        {"id": "", "function": {"name": "search", "arguments": "{}"}}, {"id": "x", "function": {"name": "", "arguments": "{}"}}]})
    parsed = NativeProtocol().parse(msg, turn=2)
    assert parsed.calls[0].id == "call_2_0"
    assert len(parsed.errors) == 1
    assert NativeProtocol().format_results([ToolOutput(parsed.calls[0], "r")])[0]["role"] == "tool"


def test_get_protocol_errors_on_unknown_name():
    import pytest

    with pytest.raises(ValueError, match="unknown tool protocol"):
        get_protocol("xml")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_every_parser_survives_arbitrary_text(text):
    for p in (HermesProtocol(), TagProtocol(TOOLS), NativeProtocol()):
        parsed = p.parse(Message("assistant", text))
        for c in parsed.calls:
            assert isinstance(json.loads(c.arguments), dict)


tag_soup = st.lists(st.sampled_from(
    ["<tool_call>", "</tool_call>", "{", "}", '"name"', ":", '"python"', '"arguments"', "<python>", "</python>",
     "<search>", "</search>", "<lookup>", "</lookup>", "x", "\n", '"', "[", "]", "null", "1"]), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(tag_soup)
def test_every_parser_survives_tag_soup(text):
    for p in (HermesProtocol(), TagProtocol(TOOLS), HermesProtocol(allow_unclosed=False), TagProtocol(TOOLS, allow_unclosed=False)):
        parsed = p.parse(Message("assistant", text))
        assert all(isinstance(e, str) and e for e in parsed.errors)
