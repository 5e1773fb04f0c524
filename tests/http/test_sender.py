"""One row end to end over real HTTP: successes, error statuses, retries, rate limits."""

from __future__ import annotations

import asyncio
import email.utils
import time

import orjson
import pytest

from knime_llm.http.ratelimit import Gate
from knime_llm.http.sender import Request, Sender
from knime_llm.http.transport import Transport, endpoint_url
from knime_llm.results import RowResult
from knime_llm.settings import Connection, Flavor, RateLimits, RetryPolicy, Secret
from tests.fakeapi import CHAT_OK, FakeAPI, Reply

FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.01, max_backoff_s=0.05, max_wait_s=30)
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def send(api: FakeAPI, *, policy: RetryPolicy = FAST, connection: Connection | None = None,
         wall_clock: float | None = None, stream: bool = False) -> RowResult:
    async def go() -> RowResult:
        conn = connection or Connection(base_url=api.url, flavor=Flavor.NO_AUTH)
        async with Transport(conn, 4) as transport:
            extra = {"wall_clock": (lambda: wall_clock)} if wall_clock is not None else {}
            sender = Sender(transport, endpoint_url(conn, "chat/completions"), Gate(4, RateLimits()), policy,
                            **extra)
            return await sender.send(Request(orjson.dumps(BODY), stream=stream))

    return asyncio.run(go())


def test_success_keeps_body_status_and_parsed_data() -> None:
    with FakeAPI() as api:
        result = send(api)
    assert result.ok and result.status == 200 and result.attempts == 1
    assert orjson.loads(result.body) == CHAT_OK and result.data == CHAT_OK
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert api.seen[0].body == BODY


def test_400_records_the_api_message_and_is_not_retried() -> None:
    with FakeAPI() as api:
        error = {"error": {"message": "Invalid 'messages[0].role'", "type": "invalid_request_error",
                           "param": "messages", "code": None}}
        api.queue(Reply(400, error))
        result = send(api)
    assert result.status == 400 and result.attempts == 1
    assert result.error == "HTTP 400: Invalid 'messages[0].role' (invalid_request_error)"
    assert orjson.loads(result.body) == error


@pytest.mark.parametrize("status, body, expected", [
    (401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}},
     "HTTP 401: Incorrect API key provided (invalid_api_key)"),
    (401, {"detail": "Invalid API key"}, "HTTP 401: Invalid API key"),  # FastAPI (llama-cpp-python)
    (404, "Not Found", "HTTP 404: Not Found"),
    (422, {"type": "https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY", "title": "Invalid request",
           "status": 422, "validation": [{"message": "Request body must have required property 'messages'"}]},
     "HTTP 422: Invalid request: Request body must have required property 'messages'"),  # Prism
])
def test_error_bodies_of_every_shape_give_one_clear_line(status: int, body: object, expected: str) -> None:
    with FakeAPI() as api:
        api.queue(Reply(status, body))
        result = send(api)
    assert result.error == expected and result.status == status and result.attempts == 1


def test_server_errors_are_retried_until_success() -> None:
    with FakeAPI() as api:
        api.queue(Reply(500, {"error": {"message": "boom"}}), Reply(502, "bad gateway"), Reply(503, ""))
        result = send(api)
    assert result.ok and result.attempts == 4 and len(api.seen) == 4


def test_retries_give_up_with_the_last_error_and_the_count() -> None:
    with FakeAPI() as api:
        api.default = Reply(503, {"error": {"message": "overloaded"}})
        result = send(api)
    assert result.status == 503 and result.attempts == 4
    assert result.error == "HTTP 503: overloaded (gave up after 4 attempts)"


@pytest.mark.parametrize("headers", [
    {"retry-after-ms": "150"},
    {"retry-after": "0.15"},
    {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "150ms"},
    {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "0.15s"},
])
def test_429_waits_as_long_as_the_server_says(headers: dict[str, str]) -> None:
    with FakeAPI() as api:
        api.queue(Reply(429, {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
                        headers=headers))
        result = send(api)
    assert result.ok and result.attempts == 2
    gap = api.seen[1].at - api.seen[0].at
    assert gap >= 0.15  # never earlier than asked (an upper bound would be a timing assertion)


def test_429_with_an_http_date_retry_after() -> None:
    when = int(time.time()) + 5  # HTTP dates have whole seconds
    with FakeAPI() as api:
        api.queue(Reply(429, headers={"retry-after": email.utils.formatdate(when, usegmt=True)}))
        result = send(api, wall_clock=when - 0.2)  # the date is 0.2 s ahead of our (fake) wall clock
    assert result.ok and api.seen[1].at - api.seen[0].at >= 0.15


def test_a_wait_past_the_maximum_fails_the_row_at_once() -> None:
    with FakeAPI() as api:
        api.queue(Reply(429, {"error": {"message": "Rate limit reached"}}, headers={"retry-after": "3600"}))
        result = send(api)
    assert result.status == 429 and result.attempts == 1 and len(api.seen) == 1
    assert result.error.startswith("HTTP 429: Rate limit reached (the server asked to wait 3600.0 s")


def test_quota_exhausted_fails_without_retrying() -> None:
    with FakeAPI() as api:
        api.queue(Reply(429, {"error": {"message": "You exceeded your current quota",
                                        "code": "insufficient_quota"}}))
        result = send(api)
    assert result.attempts == 1 and "quota is used up" in result.error


def test_connection_reset_is_retried() -> None:
    with FakeAPI() as api:
        api.queue(Reply(reset=True))
        result = send(api)
    assert result.ok and result.attempts == 2


def test_timeouts_are_retried_then_reported() -> None:
    with FakeAPI() as api:
        api.default = Reply(delay=1.0)
        result = send(api, connection=Connection(base_url=api.url, read_timeout_s=0.1),
                      policy=RetryPolicy(max_retries=1, initial_backoff_s=0.01, max_backoff_s=0.01))
    assert result.status is None and result.body is None and result.attempts == 2
    assert result.error == "timeout: no response from 127.0.0.1 within 0.1 s (read timeout) (gave up after 2 attempts)"


def test_a_200_that_is_not_json_is_an_error_that_keeps_the_body() -> None:
    with FakeAPI() as api:
        api.queue(Reply(200, "<html>proxy login</html>"))
        result = send(api)
    assert result.status == 200 and result.body == "<html>proxy login</html>"
    assert result.error.startswith("the server answered 2xx with a body that is not JSON")


def test_an_error_object_in_a_200_body_is_an_error() -> None:
    with FakeAPI() as api:
        api.queue(Reply(200, {"error": {"message": "model overloaded"}}))
        result = send(api)
    assert result.error == "error in response: model overloaded"


def test_the_api_key_is_sent_but_never_recorded() -> None:
    key = "sk-secret-abcdefghijklmnopqrstuvwxyz"
    with FakeAPI() as api:
        api.queue(Reply(401, {"error": {"message": f"bad key {key}"}}))
        result = send(api, connection=Connection(base_url=api.url, api_key=Secret(key)))
    assert api.seen[0].headers["Authorization"] == f"Bearer {key}"
    assert key not in result.body and key not in result.error
