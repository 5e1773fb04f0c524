"""Error lines for every error shape, and the raw and parsed result columns."""

from __future__ import annotations

import orjson
import pytest

from knime_llm.results import RowResult, http_error, parse_success, result_arrays, result_columns
from knime_llm.settings import Endpoint, ResultFormat
from tests.fakeapi import CHAT_OK

COMPLETION_OK = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "smollm2",
                 "choices": [{"text": " Paris.", "index": 0, "logprobs": None, "finish_reason": "length"}],
                 "usage": {"prompt_tokens": 5, "completion_tokens": 16, "total_tokens": 21}}


@pytest.mark.parametrize("status, text, line", [
    (400, '{"error": {"message": "bad", "type": "invalid_request_error", "param": null, "code": null}}',
     "HTTP 400: bad (invalid_request_error)"),
    (500, '{"error": {"message": "Input should be a valid number", "type": "internal_server_error"}}',
     "HTTP 500: Input should be a valid number (internal_server_error)"),
    (422, '{"detail": [{"loc": ["body", "messages", 0, "role"], "msg": "Input should be \'user\'"}]}',
     "HTTP 422: messages.0.role: Input should be 'user'"),
    (401, '{"title": "Invalid security scheme used", "status": 401, "detail": "Missing header"}',
     "HTTP 401: Invalid security scheme used: Missing header"),
    (502, "<html>\n  <body>Bad   Gateway</body>\n</html>", "HTTP 502: <html> <body>Bad Gateway</body> </html>"),
    (503, "", "HTTP 503"),
    (500, '{"message": "Internal Server Error"}', "HTTP 500: Internal Server Error"),
])
def test_http_error_reads_every_error_shape(status: int, text: str, line: str) -> None:
    assert http_error(status, text) == line


def test_http_error_clips_huge_bodies() -> None:
    assert len(http_error(500, "x" * 10_000)) < 320


def test_parse_success_accepts_responses_without_optional_fields() -> None:
    bare = {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}
    assert parse_success(orjson.dumps(bare).decode()) == (bare, None)
    assert parse_success("[1]")[1] == "the server answered 2xx with JSON that is not an object"


def columns(endpoint: Endpoint, fmt: ResultFormat, results: list[RowResult]) -> dict[str, list]:
    names = [name for name, _ in result_columns(endpoint, fmt)]
    return dict(zip(names, (a.to_pylist() for a in result_arrays(results, endpoint, fmt))))


def test_raw_columns_are_body_status_error() -> None:
    assert [n for n, _ in result_columns(Endpoint.CHAT, ResultFormat.RAW)] == ["body", "status", "error"]
    assert [n for n, _ in result_columns(Endpoint.CHAT, ResultFormat.RAW, with_warning=True)] == [
        "body", "status", "error", "warning"]
    got = columns(Endpoint.CHAT, ResultFormat.RAW, [RowResult(body="{}", status=200),
                                                     RowResult(error="timeout: no response")])
    assert got == {"body": ["{}", None], "status": [200, None], "error": [None, "timeout: no response"]}


def test_parsed_chat_columns() -> None:
    ok = RowResult(body=orjson.dumps(CHAT_OK).decode(), status=200, data=CHAT_OK, attempts=2, latency_ms=12.5)
    tool = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}]}
    got = columns(Endpoint.CHAT, ResultFormat.PARSED,
                  [ok, RowResult(status=200, data=tool, attempts=1), RowResult(error="validation: x")])
    assert got["content"] == ["hello", None, None]
    assert got["finish_reason"] == ["stop", "tool_calls", None]
    assert orjson.loads(got["tool_calls"][1]) == tool["choices"][0]["message"]["tool_calls"]
    assert got["prompt_tokens"] == [5, None, None] and got["total_tokens"] == [6, None, None]
    assert got["cached_tokens"] == [2, None, None] and got["reasoning_tokens"] == [0, None, None]
    assert got["model"] == ["gpt-test", None, None] and got["response_id"] == ["chatcmpl-1", None, None]
    assert got["latency_ms"] == [12.5, None, None] and got["attempts"] == [2, 1, 0]


def test_parsed_completion_columns() -> None:
    got = columns(Endpoint.COMPLETION, ResultFormat.PARSED,
                  [RowResult(status=200, data=COMPLETION_OK, attempts=1)])
    assert got["text"] == [" Paris."] and got["finish_reason"] == ["length"]
    assert got["completion_tokens"] == [16] and "content" not in got and "tool_calls" not in got


def test_parsed_columns_of_an_empty_chunk() -> None:
    arrays = result_arrays([], Endpoint.CHAT, ResultFormat.PARSED)
    assert len(arrays) == len(result_columns(Endpoint.CHAT, ResultFormat.PARSED))
    assert all(len(a) == 0 for a in arrays)
