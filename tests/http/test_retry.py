"""Retry decisions with plain data: statuses, server-given waits, backoff, the maximum wait."""

from __future__ import annotations

import email.utils

import pytest

from knime_llm.http.retry import (
    Attempt,
    backoff,
    decide,
    is_retryable_status,
    parse_duration,
    pause_after_success,
    ratelimit_reset,
    retry_after,
)
from knime_llm.settings import RetryPolicy

NOW = 1_700_000_000.0
POLICY = RetryPolicy(max_retries=3, initial_backoff_s=0.5, max_backoff_s=8.0, max_wait_s=60.0)


@pytest.mark.parametrize("status, retry", [(408, True), (409, True), (429, True), (500, True), (502, True),
                                           (503, True), (599, True), (400, False), (401, False),
                                           (404, False), (422, False), (600, False)])
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


@pytest.mark.parametrize("text, seconds", [
    ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5s", 0.5), ("250us", 0.00025),
    ("7", 7.0), ("", None), ("soon", None), ("5x", None), ("-3", None), ("1s garbage", None)])
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == pytest.approx(seconds) if seconds is not None else parse_duration(text) is None


@pytest.mark.parametrize("headers, seconds", [
    ({"retry-after-ms": "1500"}, 1.5),
    ({"retry-after": "3"}, 3.0),
    ({"retry-after": "2.5"}, 2.5),
    ({"Retry-After": "4"}, 4.0),  # header names are case-insensitive
    ({"retry-after-ms": "200", "retry-after": "9"}, 0.2),  # the finer header wins
    ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
    ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),  # a date in the past
    ({"retry-after": "-1"}, None), ({"retry-after": "nan"}, None), ({"retry-after": "inf"}, None),
    ({"retry-after": "tomorrow"}, None), ({"retry-after-ms": "x"}, None), ({}, None),
])
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    got = retry_after(headers, NOW)
    assert got == pytest.approx(seconds, abs=1.0) if seconds is not None else got is None


def test_ratelimit_reset_takes_the_exhausted_budget() -> None:
    headers = {"x-ratelimit-remaining-requests": "12", "x-ratelimit-reset-requests": "1s",
               "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}
    assert ratelimit_reset(headers) == 360.0
    both = {**headers, "x-ratelimit-remaining-requests": "0"}
    assert ratelimit_reset(both) == 360.0
    assert ratelimit_reset({"x-ratelimit-reset-requests": "20ms"}) == pytest.approx(0.02)
    assert ratelimit_reset({"x-ratelimit-remaining-tokens": "5", "x-ratelimit-reset-tokens": "1s"}) is None


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    assert [backoff(i, POLICY, 0.0) for i in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert [backoff(i, POLICY, 0.999999) for i in range(6)] == pytest.approx([0.5, 1, 2, 4, 8, 8], rel=1e-5)


def test_client_errors_are_not_retried() -> None:
    assert decide(Attempt(400), 0, 0.0, POLICY, now=NOW, rand=0.5).retry is False
    assert decide(Attempt(401), 0, 0.0, POLICY, now=NOW, rand=0.5).reason == ""


def test_429_honours_retry_after_and_pauses_everyone() -> None:
    decision = decide(Attempt(429, headers={"retry-after": "7"}), 0, 0.0, POLICY, now=NOW, rand=0.5)
    assert decision.retry and decision.cooldown and decision.delay_s == 7.0


def test_429_without_retry_after_uses_ratelimit_reset_then_backoff() -> None:
    reset = decide(Attempt(429, headers={"x-ratelimit-remaining-requests": "0",
                                         "x-ratelimit-reset-requests": "2s"}), 0, 0.0, POLICY, now=NOW, rand=0.5)
    assert reset.delay_s == 2.0 and reset.cooldown
    plain = decide(Attempt(429), 1, 0.0, POLICY, now=NOW, rand=0.0)
    assert plain.delay_s == 0.5 and plain.cooldown


def test_server_errors_and_failures_back_off_without_a_shared_pause() -> None:
    for attempt in (Attempt(503), Attempt(None, failure="timeout"), Attempt(None, failure="connection")):
        decision = decide(attempt, 2, 0.0, POLICY, now=NOW, rand=0.0)
        assert decision.retry and not decision.cooldown and decision.delay_s == 1.0


def test_retries_stop_after_max_retries() -> None:
    decision = decide(Attempt(500), 3, 0.0, POLICY, now=NOW, rand=0.0)
    assert not decision.retry and decision.reason == "gave up after 4 attempts"
    once = decide(Attempt(500), 0, 0.0, RetryPolicy(max_retries=0), now=NOW, rand=0.0)
    assert once.reason == "gave up after 1 attempt"


def test_a_wait_beyond_the_maximum_fails_the_row_at_once() -> None:
    decision = decide(Attempt(429, headers={"retry-after": "3600"}), 0, 0.0, POLICY, now=NOW, rand=0.0)
    assert not decision.retry
    assert "asked to wait 3600.0 s" in decision.reason and "maximum wait of 60 s" in decision.reason


def test_waiting_already_done_counts_towards_the_maximum() -> None:
    decision = decide(Attempt(503), 1, 59.9, POLICY, now=NOW, rand=0.0)
    assert not decision.retry and "59.9 s of waiting" in decision.reason


def test_quota_exhausted_is_not_retried() -> None:
    decision = decide(Attempt(429, error_code="insufficient_quota"), 0, 0.0, POLICY, now=NOW, rand=0.0)
    assert not decision.retry and "quota" in decision.reason


def test_x_should_retry_overrides_the_status() -> None:
    assert not decide(Attempt(503, headers={"x-should-retry": "false"}), 0, 0.0, POLICY, now=NOW, rand=0).retry
    assert decide(Attempt(400, headers={"x-should-retry": "true"}), 0, 0.0, POLICY, now=NOW, rand=0).retry


def test_pause_after_a_success_that_used_the_last_request() -> None:
    assert pause_after_success({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s"}) == 1.5
    assert pause_after_success({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "1s"}) is None
    assert pause_after_success({}) is None
