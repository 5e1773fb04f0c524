"""Sending one row: wait at the gate, post, and retry as :mod:`knime_llm.http.retry` decides.

This is the only loop that acts on retry decisions. It never raises for a row's failure: the
outcome is always a :class:`~knime_llm.results.RowResult`. Cancellation (``CancelledError``)
passes straight through, also while waiting, so a cancelled run stops sending at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson

from ..results import RowResult, http_error, parse_success
from ..settings import RetryPolicy
from .ratelimit import Gate
from .retry import Attempt, Decision, decide, pause_after_success
from .transport import Reply, Transport, TransportFailure


@dataclass(frozen=True, slots=True)
class Request:
    """A row ready to send.

    Attributes:
        payload: the serialized JSON body.
        stream: the body asks for a streamed answer.
        tokens: estimated tokens, booked against a tokens-per-minute budget.
        warning: a validation problem of a body sent anyway (validation "warn").
    """

    payload: bytes
    stream: bool = False
    tokens: int = 0
    warning: str | None = None


class Sender:
    """Sends rows to one URL through a shared transport and gate."""

    def __init__(self, transport: Transport, url: str, gate: Gate, policy: RetryPolicy, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random) -> None:
        self._transport = transport
        self._url = url
        self._gate = gate
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rand = rand

    async def send(self, request: Request) -> RowResult:
        """Send one row until it succeeds, fails for good, or the run is cancelled."""
        gate = self._gate
        attempts = 0
        waited = 0.0
        failed_at: float | None = None
        while True:
            await gate.enter(request.tokens)
            if failed_at is not None:  # time spent sleeping and queueing at the gate counts as waiting
                waited += self._clock() - failed_at
            attempts += 1
            try:
                reply = await self._transport.post(self._url, request.payload, stream=request.stream)
            except TransportFailure as failure:
                gate.leave(ok=False, token_correction=-request.tokens)
                if not failure.retryable:
                    return RowResult(error=failure.message, warning=request.warning, attempts=attempts)
                decision = self._decide(Attempt(None, failure=failure.kind), attempts, waited)
                if not decision.retry:
                    return RowResult(error=_with_reason(failure.message, decision), warning=request.warning,
                                     attempts=attempts)
            except BaseException:
                gate.leave(ok=False, token_correction=-request.tokens)
                raise
            else:
                status = reply.status
                if 200 <= status < 300:
                    return self._success(reply, request, attempts)
                gate.leave(ok=status != 429, token_correction=-request.tokens)
                decision = self._decide(Attempt(status, headers=reply.headers,
                                                error_code=_error_code(reply.text) if status == 429 else None),
                                        attempts, waited)
                if not decision.retry:
                    return RowResult(body=reply.text, status=status, warning=request.warning,
                                     error=_with_reason(http_error(status, reply.text), decision),
                                     attempts=attempts, latency_ms=round(reply.seconds * 1000.0, 2))
                if decision.cooldown:
                    gate.cooldown(decision.delay_s)
            failed_at = self._clock()
            if not decision.cooldown:  # a cooldown is waited out at the gate, with everyone else
                await self._sleep(decision.delay_s)

    def _decide(self, attempt: Attempt, attempts: int, waited: float) -> Decision:
        return decide(attempt, attempts - 1, waited, self._policy, now=self._wall_clock(), rand=self._rand())

    def _success(self, reply: Reply, request: Request, attempts: int) -> RowResult:
        data, problem = parse_success(reply.text)
        result = RowResult(body=reply.text, status=reply.status, error=problem, warning=request.warning,
                           attempts=attempts, latency_ms=round(reply.seconds * 1000.0, 2), data=data)
        self._gate.leave(ok=True, token_correction=result.total_tokens - request.tokens
                         if request.tokens else 0)
        pause = pause_after_success(reply.headers)
        if pause:
            self._gate.cooldown(pause)
        return result


def _error_code(text: str) -> str | None:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _with_reason(message: str, decision: Decision) -> str:
    return f"{message} ({decision.reason})" if decision.reason else message
