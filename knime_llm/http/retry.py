"""Retry decisions as pure functions: what failed, whether to try again, and how long to wait.

Nothing here sleeps, reads a clock or draws a random number itself: ``now`` and ``rand`` are
arguments, so every decision is tested with plain data. The async loop that acts on a
:class:`Decision` lives in :mod:`knime_llm.http.sender`.

What the server says wins over our own backoff, in this order: ``retry-after-ms``, then
``retry-after`` (seconds or an HTTP date), then on a 429 the ``x-ratelimit-reset-requests`` /
``-tokens`` header of the budget that ran out (Go-style durations such as ``6m0s`` or ``20ms``).
Without any of these we back off exponentially with jitter, capped.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..settings import RetryPolicy

#: Statuses worth another attempt: timeouts, conflicts, rate limits and server errors.
RETRY_STATUSES = frozenset({408, 409, 429})

#: Error codes on a 429 that no amount of waiting fixes (OpenAI's "out of credit").
_HOPELESS_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt produced, reduced to what a retry decision needs.

    Attributes:
        status: the HTTP status, or ``None`` when no response came.
        failure: ``"timeout"`` or ``"connection"`` when no response came, else ``None``.
        headers: the response headers (case-insensitive lookups are done here in lower case).
        error_code: the ``error.code`` of an OpenAI-shaped error body, when there is one.
    """

    status: int | None
    failure: str | None = None
    headers: Mapping[str, str] | None = None
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to try again, after how long, and whether every worker should pause too."""

    retry: bool
    delay_s: float = 0.0
    #: A rate limit: all requests of the run pause for ``delay_s`` (one shared cooldown).
    cooldown: bool = False
    #: Why a row gives up (added to its error), or why it waits (for logs).
    reason: str = ""


def is_retryable_status(status: int) -> bool:
    """True for 408, 409, 429 and every 5xx."""
    return status in RETRY_STATUSES or 500 <= status <= 599


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s``); None if unreadable."""
    text = text.strip()
    if not text:
        return None
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        # A bare number: OpenAI-compatible servers sometimes send plain seconds.
        try:
            value = float(text)
        except ValueError:
            return None
        return value if math.isfinite(value) and value >= 0 else None
    return total


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None and not hasattr(headers, "getall"):  # plain dicts from tests or other clients
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name)
    return value


def retry_after(headers: Mapping[str, str] | None, now: float) -> float | None:
    """The wait the server asks for in ``retry-after-ms`` or ``retry-after``, in seconds.

    Args:
        headers: response headers.
        now: the current wall-clock time (seconds since the epoch), for HTTP-date values.

    Returns:
        Seconds to wait (0 or more), or ``None`` when neither header holds a usable value.
    """
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    text = _header(headers, "retry-after")
    if text is None:
        return None
    text = text.strip()
    try:
        value = float(text)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def ratelimit_reset(headers: Mapping[str, str] | None) -> float | None:
    """Seconds until the exhausted rate-limit budget refills, from ``x-ratelimit-*`` headers.

    A budget counts as exhausted when its ``x-ratelimit-remaining-*`` is 0; when no remaining
    header is sent, any reset header given is taken. With several, the longest wait wins.
    """
    waits = []
    for budget in ("requests", "tokens"):
        reset = _header(headers, f"x-ratelimit-reset-{budget}")
        if reset is None:
            continue
        remaining = _header(headers, f"x-ratelimit-remaining-{budget}")
        if remaining is not None and remaining.strip() not in ("0", "0.0"):
            continue
        seconds = parse_duration(reset)
        if seconds is not None:
            waits.append(seconds)
    return max(waits) if waits else None


def backoff(retry_index: int, policy: RetryPolicy, rand: float) -> float:
    """Exponential backoff with jitter: half the capped delay fixed, half random.

    Args:
        retry_index: 0 for the first retry, 1 for the second, ...
        policy: the run's retry policy.
        rand: a number in [0, 1) (``random.random()`` in production).
    """
    capped = min(policy.max_backoff_s, policy.initial_backoff_s * (2.0 ** min(retry_index, 30)))
    return capped / 2.0 + capped / 2.0 * rand


def decide(attempt: Attempt, retries_done: int, waited_s: float, policy: RetryPolicy, *,
           now: float, rand: float) -> Decision:
    """Decide what to do after a failed attempt.

    Args:
        attempt: what the attempt produced (a response status, or a failure).
        retries_done: how many retries this row has had already.
        waited_s: how long this row has already waited between its attempts.
        policy: the run's retry policy.
        now: wall-clock time, for HTTP-date ``retry-after`` values.
        rand: a number in [0, 1) for the jitter.

    Returns:
        A :class:`Decision`; when ``retry`` is False, ``reason`` says why the row gives up
        (empty for statuses that are simply not retried, like 400).
    """
    status = attempt.status
    should = (_header(attempt.headers, "x-should-retry") or "").strip().lower()
    if should == "false":
        return Decision(False, reason="the server said not to retry")
    if status is not None and not is_retryable_status(status) and should != "true":
        return Decision(False)
    if status == 429 and attempt.error_code in _HOPELESS_CODES:
        return Decision(False, reason="the account's quota is used up; waiting will not help")
    if retries_done >= policy.max_retries:
        return Decision(False, reason=f"gave up after {_attempts(retries_done + 1)}")
    asked = retry_after(attempt.headers, now)
    if asked is None and status == 429:
        asked = ratelimit_reset(attempt.headers)
    delay = asked if asked is not None else backoff(retries_done, policy, rand)
    if waited_s + delay > policy.max_wait_s:
        if asked is not None:
            reason = (f"the server asked to wait {delay:.1f} s, which would pass the maximum wait "
                      f"of {policy.max_wait_s:g} s")
        else:
            reason = f"gave up after {_attempts(retries_done + 1)} and {waited_s:.1f} s of waiting"
        return Decision(False, reason=reason)
    return Decision(True, delay, cooldown=status == 429, reason=_why(attempt))


def pause_after_success(headers: Mapping[str, str] | None) -> float | None:
    """How long all requests should pause after a success that used up a rate-limit budget.

    OpenAI reports ``x-ratelimit-remaining-requests: 0`` on the last allowed request; pausing until
    the reset then saves a round of 429s.
    """
    remaining = _header(headers, "x-ratelimit-remaining-requests")
    if remaining is None or remaining.strip() != "0":
        return None
    reset = _header(headers, "x-ratelimit-reset-requests")
    return parse_duration(reset) if reset is not None else None


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def _why(attempt: Attempt) -> str:
    if attempt.status is not None:
        return f"HTTP {attempt.status}"
    return attempt.failure or "failure"

