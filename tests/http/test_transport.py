"""The HTTP transport over real sockets: URLs, auth per flavor, failures, streams, redaction."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from knime_llm.errors import ConfigError
from knime_llm.http.transport import (
    Reply,
    Transport,
    TransportFailure,
    endpoint_url,
    environment_proxy,
    request_headers,
)
from knime_llm.settings import Connection, Flavor, Secret
from tests.fakeapi import FakeAPI
from tests.fakeapi import Reply as Scripted

KEY = "sk-test-0123456789abcdefghijklmnop"


def post(connection: Connection, path: str = "chat/completions", payload: bytes = b"{}",
         stream: bool = False) -> Reply:
    async def go() -> Reply:
        async with Transport(connection, 2) as transport:
            return await transport.post(endpoint_url(connection, path), payload, stream=stream)

    return asyncio.run(go())


@pytest.mark.parametrize("base", ["{url}", "{url}/"])
def test_base_url_with_or_without_trailing_slash(base: str) -> None:
    with FakeAPI() as api:
        reply = post(Connection(base_url=base.format(url=api.url), flavor=Flavor.NO_AUTH))
        assert reply.status == 200
        assert api.seen[0].path == "/v1/chat/completions"


def test_openai_flavor_sends_bearer_and_identity_headers() -> None:
    with FakeAPI() as api:
        post(Connection(base_url=api.url, api_key=Secret(KEY), organization="org-1", project="proj-1",
                        headers=(("X-Trace", "abc"),)))
        headers = api.seen[0].headers
        assert headers["Authorization"] == f"Bearer {KEY}"
        assert headers["OpenAI-Organization"] == "org-1" and headers["OpenAI-Project"] == "proj-1"
        assert headers["X-Trace"] == "abc" and headers["Content-Type"] == "application/json"
        assert "api-key" not in {k.lower() for k in headers}


def test_azure_flavor_sends_api_key_header_and_api_version() -> None:
    with FakeAPI() as api:
        post(Connection(base_url=api.url + "/openai/deployments/gpt4o", flavor=Flavor.AZURE,
                        api_key=Secret(KEY), api_version="2024-06-01"))
        seen = api.seen[0]
        assert seen.headers["api-key"] == KEY and "Authorization" not in seen.headers
        assert seen.query == {"api-version": "2024-06-01"}
        assert seen.path == "/v1/openai/deployments/gpt4o/chat/completions"


def test_azure_v1_urls_take_no_api_version_and_classic_urls_get_the_default() -> None:
    v1 = Connection(base_url="https://r.openai.azure.com/openai/v1/", flavor=Flavor.AZURE, api_key=Secret(KEY))
    assert endpoint_url(v1, "chat/completions") == "https://r.openai.azure.com/openai/v1/chat/completions"
    classic = Connection(base_url="https://r.openai.azure.com/openai/deployments/d", flavor=Flavor.AZURE,
                         api_key=Secret(KEY))
    assert endpoint_url(classic, "completions").endswith("/deployments/d/completions?api-version=2024-10-21")


def test_no_auth_flavor_and_missing_key_send_no_auth_header() -> None:
    for connection in (Connection(flavor=Flavor.NO_AUTH, api_key=Secret(KEY)), Connection()):
        headers = {k.lower() for k in request_headers(connection)}
        assert "authorization" not in headers and "api-key" not in headers


@pytest.mark.parametrize("url", ["api.openai.com/v1", "ftp://x/v1", "http://", "http://h/v1?x=1"])
def test_bad_base_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="base URL"):
        Connection(base_url=url)


def test_reserved_headers_cannot_be_overridden() -> None:
    with pytest.raises(ConfigError, match="Authorization"):
        Connection(headers=(("Authorization", "Bearer x"),))


def test_the_key_never_shows_in_repr_of_settings() -> None:
    connection = Connection(api_key=Secret(KEY))
    assert KEY not in repr(connection) and KEY not in str(connection.api_key)


def test_a_key_echoed_by_the_server_is_redacted_from_the_body() -> None:
    with FakeAPI() as api:
        api.queue(Scripted(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
        reply = post(Connection(base_url=api.url, api_key=Secret(KEY)))
        assert reply.status == 401 and KEY not in reply.text and "***" in reply.text


def test_connection_refused_is_a_connection_failure_naming_the_host() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransportFailure) as failure:
        post(Connection(base_url=f"http://127.0.0.1:{port}/v1", api_key=Secret(KEY)))
    assert failure.value.kind == "connection"
    assert f"cannot connect to 127.0.0.1:{port}" in failure.value.message
    assert KEY not in failure.value.message


def test_a_reset_connection_is_a_connection_failure() -> None:
    with FakeAPI() as api:
        api.queue(Scripted(reset=True))
        with pytest.raises(TransportFailure) as failure:
            post(Connection(base_url=api.url))
        assert failure.value.kind == "connection" and failure.value.retryable


def test_a_slow_server_is_a_read_timeout() -> None:
    with FakeAPI() as api:
        api.queue(Scripted(delay=1.0))
        with pytest.raises(TransportFailure) as failure:
            post(Connection(base_url=api.url, read_timeout_s=0.2))
        assert failure.value.kind == "timeout"
        assert "no response from 127.0.0.1 within 0.2 s" in failure.value.message


def test_a_streamed_chat_answer_is_assembled_into_one_response() -> None:
    chunks = [
        {"id": "c1", "object": "chat.completion.chunk", "created": 3, "model": "m",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]},
        {"id": "c1", "object": "chat.completion.chunk", "created": 3, "model": "m",
         "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"id": "c1", "object": "chat.completion.chunk", "created": 3, "model": "m", "choices": [],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]
    with FakeAPI() as api:
        api.queue(Scripted(events=[json.dumps(c) for c in chunks] + ["[DONE]"]))
        reply = post(Connection(base_url=api.url), stream=True)
        assert api.seen[0].headers["Accept"] == "text/event-stream"
    body = json.loads(reply.text)
    assert body["object"] == "chat.completion" and body["id"] == "c1"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == 5


def test_a_stream_request_answered_with_plain_json_is_read_as_json() -> None:
    with FakeAPI() as api:  # Prism answers stream: true with a JSON body
        reply = post(Connection(base_url=api.url), stream=True)
    assert json.loads(reply.text)["object"] == "chat.completion"


def test_the_proxy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeAPI() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "bypassed.example")
        reply = post(Connection(base_url="http://api.example.invalid/v1", flavor=Flavor.NO_AUTH))
        assert reply.status == 200 and proxy.seen[0].headers["Host"] == "api.example.invalid"
        assert environment_proxy("http://bypassed.example/v1/x") is None
        assert environment_proxy("http://api.example.invalid/v1/x") == f"http://127.0.0.1:{proxy.port}"


def test_a_key_with_a_line_break_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="control character") as err:
        Connection(api_key=Secret("sk-abc\ndef"))
    assert "sk-abc" not in str(err.value)
    with pytest.raises(ConfigError, match="header 'X-A' contains a line break"):
        Connection(headers=(("X-A", "v\r\nX-Injected: 1"),))
