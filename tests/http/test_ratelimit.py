"""The shared cooldown, slow start after it, and per-minute budgets, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from knime_llm.http.ratelimit import Gate, Pacer
from knime_llm.settings import RateLimits

INF = float("inf")


def test_without_limits_requests_start_at_once_up_to_the_window() -> None:
    pacer = Pacer(2, RateLimits())
    assert pacer.wait_time(0.0) == 0.0
    pacer.start(0.0)
    pacer.start(0.0)
    assert pacer.wait_time(0.0) == INF  # full: wait for a request to finish
    pacer.finish(ok=True)
    assert pacer.wait_time(0.0) == 0.0


def test_a_cooldown_stops_everyone_until_it_ends() -> None:
    pacer = Pacer(8, RateLimits())
    pacer.cooldown(10.0, 5.0)
    assert pacer.wait_time(10.0) == 5.0
    assert pacer.wait_time(14.9) == pytest.approx(0.1)
    assert pacer.wait_time(15.0) == 0.0
    pacer.cooldown(11.0, 1.0)  # a shorter cooldown never cuts a longer one short
    assert pacer.cooldown_until == 15.0


def test_after_a_cooldown_requests_restart_one_at_a_time_then_grow() -> None:
    pacer = Pacer(4, RateLimits())
    pacer.cooldown(0.0, 1.0)
    pacer.start(1.0)
    assert pacer.wait_time(1.0) == INF  # only one request until it succeeds
    pacer.finish(ok=True)
    pacer.start(1.1)
    pacer.start(1.1)
    assert pacer.wait_time(1.1) == INF  # window of two
    pacer.finish(ok=True)
    pacer.finish(ok=True)
    assert pacer.window == 4  # back to full concurrency


def test_a_failure_during_slow_start_does_not_widen_the_window() -> None:
    pacer = Pacer(4, RateLimits())
    pacer.cooldown(0.0, 1.0)
    pacer.start(1.0)
    pacer.finish(ok=False)
    assert pacer.window == 1


def test_requests_per_minute_are_spaced_evenly() -> None:
    pacer = Pacer(100, RateLimits(requests_per_minute=120))  # one every 0.5 s
    starts = []
    now = 0.0
    for _ in range(5):
        now += pacer.wait_time(now)
        starts.append(now)
        pacer.start(now)
    assert starts == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_tokens_per_minute_book_the_estimate_and_take_corrections() -> None:
    pacer = Pacer(100, RateLimits(tokens_per_minute=6000))  # 100 tokens a second
    pacer.start(0.0, tokens=200)
    assert pacer.wait_time(0.0) == pytest.approx(2.0)
    pacer.finish(ok=True, token_correction=-100)  # it used only 100
    assert pacer.wait_time(0.0) == pytest.approx(1.0)


class FakeTime:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_gate_waits_out_a_cooldown_on_the_fake_clock() -> None:
    async def scenario() -> None:
        time = FakeTime()
        gate = Gate(4, RateLimits(), clock=time.clock, sleep=time.sleep)
        gate.cooldown(3.0)
        assert gate.cooling_down
        await gate.enter()
        assert time.now == 3.0 and time.sleeps == [3.0]
        assert not gate.cooling_down
        gate.leave(ok=True)

    asyncio.run(scenario())


def test_gate_holds_a_second_request_until_the_first_succeeds_after_a_cooldown() -> None:
    async def scenario() -> None:
        time = FakeTime()
        gate = Gate(4, RateLimits(), clock=time.clock, sleep=time.sleep)
        gate.cooldown(1.0)
        await gate.enter()
        second = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.01)
        assert not second.done()  # no burst: the window is one request wide
        gate.leave(ok=True)
        await asyncio.wait_for(second, 1)
        assert gate.pacer.in_flight == 1

    asyncio.run(scenario())


def test_gate_spaces_requests_by_the_budget() -> None:
    async def scenario() -> list[float]:
        time = FakeTime()
        gate = Gate(10, RateLimits(requests_per_minute=60), clock=time.clock, sleep=time.sleep)
        starts = []
        for _ in range(3):
            await gate.enter()
            starts.append(time.now)
            gate.leave(ok=True)
        return starts

    assert asyncio.run(scenario()) == [0.0, 1.0, 2.0]


def test_waiting_at_the_gate_ends_when_cancelled() -> None:
    async def scenario() -> None:
        gate = Gate(1, RateLimits())
        gate.cooldown(3600)
        waiter = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(scenario())
