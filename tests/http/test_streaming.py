"""Assembling server-sent event streams into final responses."""

from __future__ import annotations

import json

from knime_llm.http.streaming import StreamAssembler


def assemble(*chunks: object, raw: list[str] | None = None) -> dict:
    assembler = StreamAssembler()
    for chunk in chunks:
        assembler.feed(f"data: {json.dumps(chunk)}\n")
        assembler.feed("\n")
    for line in raw or []:
        assembler.feed(line)
    assembler.close()
    return assembler.result()


def test_tool_call_fragments_are_joined_by_index() -> None:
    result = assemble(
        {"id": "x", "object": "chat.completion.chunk", "model": "m", "created": 1,
         "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
             {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_", "arguments": ""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"name": "weather", "arguments": '{"city":'}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "id": "call_2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
            {"index": 0, "function": {"arguments": ' "Oslo"}'}}]}, "finish_reason": "tool_calls"}]},
    )
    message = result["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ]
    assert result["choices"][0]["finish_reason"] == "tool_calls"


def test_legacy_completion_text_is_concatenated_per_choice() -> None:
    result = assemble(
        {"id": "c", "object": "text_completion", "model": "m", "created": 1,
         "choices": [{"index": 0, "text": "Par"}, {"index": 1, "text": "Lyo"}]},
        {"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": "is", "finish_reason": "stop"},
                                                             {"index": 1, "text": "n", "finish_reason": "length"}]},
    )
    assert result["object"] == "text_completion"
    assert [(c["text"], c["finish_reason"]) for c in result["choices"]] == [("Paris", "stop"), ("Lyon", "length")]


def test_an_error_inside_the_stream_becomes_the_result() -> None:
    result = assemble({"choices": [{"index": 0, "delta": {"content": "a"}}]},
                      {"error": {"message": "overloaded", "type": "server_error"}})
    assert result == {"error": {"message": "overloaded", "type": "server_error"}}


def test_comments_done_marker_and_crlf_are_handled() -> None:
    result = assemble(raw=[": keep-alive\r\n", "\r\n",
                           'data: {"choices": [{"index": 0, "delta": {"content": "ok"}}]}\r\n', "\r\n",
                           "data: [DONE]\r\n", "\r\n"])
    assert result["choices"][0]["message"]["content"] == "ok"


def test_an_event_split_over_several_data_lines_is_joined() -> None:
    result = assemble(raw=['data: {"choices": [{"index": 0,\n', 'data: "delta": {"content": "x"}}]}\n', "\n"])
    assert result["choices"][0]["message"]["content"] == "x"
