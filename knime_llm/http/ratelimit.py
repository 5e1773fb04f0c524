"""The shared 429 cooldown and the requests/tokens-per-minute budgets of one run.

Written by hand because the rate limiters we looked at solve a different problem: they pace a
steady flow (token buckets) but cannot stop *all* workers the moment one of them is told to back
off, nor restart them gently. Here a 429 pauses every request of the run until the server's reset
time, then lets requests out again with slow start (one request, then one more for each success),
so the end of a cooldown never fires the whole window at a server that just said "too many".

:class:`Pacer` holds the state and decides with explicit ``now`` values (tested with plain
numbers); :class:`Gate` is the thin asyncio wrapper the sender awaits before each attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..settings import RateLimits


class Pacer:
    """When the next request may start, given cooldowns, slow start and per-minute budgets.

    Budgets use the generic cell rate algorithm: each request (or token) books ``60/limit``
    seconds on a virtual schedule, so requests come out evenly spaced instead of in bursts at
    the start of each minute.
    """

    def __init__(self, concurrency: int, limits: RateLimits) -> None:
        self.max_in_flight = concurrency
        self.window = concurrency  # shrinks to 1 after a cooldown, then grows by one per success
        self.in_flight = 0
        self.cooldown_until = 0.0
        self._request_cost = 60.0 / limits.requests_per_minute if limits.requests_per_minute else 0.0
        self._token_cost = 60.0 / limits.tokens_per_minute if limits.tokens_per_minute else 0.0
        self._request_tat = 0.0  # theoretical arrival time of the next request
        self._token_tat = 0.0

    @property
    def budgeted(self) -> bool:
        """True when a requests- or tokens-per-minute budget is set."""
        return bool(self._request_cost or self._token_cost)

    def wait_time(self, now: float) -> float:
        """Seconds to wait before a request may start now (0 when it may start at once).

        A positive value while the window is full means "until a request finishes"; callers
        wait for a finish (or the returned time, whichever comes first) and ask again.
        """
        if now < self.cooldown_until:
            return self.cooldown_until - now
        if self.in_flight >= self.window:
            return float("inf")
        budget_start = max(self._request_tat, self._token_tat)
        return max(0.0, budget_start - now)

    def start(self, now: float, tokens: int = 0) -> None:
        """Book a request that starts now, with its estimated token count."""
        self.in_flight += 1
        if self._request_cost:
            self._request_tat = max(self._request_tat, now) + self._request_cost
        if self._token_cost:
            self._token_tat = max(self._token_tat, now) + tokens * self._token_cost

    def finish(self, *, ok: bool, token_correction: int = 0) -> None:
        """Record that a request ended; a success widens the window during slow start.

        Args:
            ok: the request got a response that was not a rate limit.
            token_correction: actual tokens minus the estimate booked at start.
        """
        self.in_flight -= 1
        if ok and self.window < self.max_in_flight:
            self.window += 1
        if self._token_cost and token_correction:
            self._token_tat += token_correction * self._token_cost

    def cooldown(self, now: float, seconds: float) -> None:
        """Pause every request until ``now + seconds`` and restart with a window of one."""
        self.cooldown_until = max(self.cooldown_until, now + seconds)
        self.window = 1


class Gate:
    """The asyncio side of :class:`Pacer`: awaited before each attempt, told after it."""

    def __init__(self, concurrency: int, limits: RateLimits, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.pacer = Pacer(concurrency, limits)
        self._clock = clock
        self._sleep = sleep
        self._finished = asyncio.Event()
        # Without budgets and outside slow start every worker may go at once: skip the bookkeeping.
        self._fast = not self.pacer.budgeted

    async def enter(self, tokens: int = 0) -> None:
        """Wait until a request may be sent, then book it. Cancelling the caller ends the wait."""
        pacer = self.pacer
        if self._fast and pacer.window >= pacer.max_in_flight and self._clock() >= pacer.cooldown_until:
            pacer.in_flight += 1
            return
        while True:
            now = self._clock()
            wait = pacer.wait_time(now)
            if wait <= 0.0:
                pacer.start(now, tokens)
                return
            if wait == float("inf"):
                self._finished.clear()
                await self._finished.wait()
            else:
                await self._sleep(wait)

    def leave(self, *, ok: bool, token_correction: int = 0) -> None:
        """Record that the request booked by :meth:`enter` has ended."""
        self.pacer.finish(ok=ok, token_correction=token_correction)
        self._finished.set()

    def cooldown(self, seconds: float) -> None:
        """Pause every request of the run for ``seconds`` (a 429, or a used-up budget)."""
        self.pacer.cooldown(self._clock(), seconds)

    @property
    def cooling_down(self) -> bool:
        """True while a cooldown is in force."""
        return self._clock() < self.pacer.cooldown_until
