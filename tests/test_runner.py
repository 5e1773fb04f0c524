"""The sliding window: order, no group waits, bounded look-ahead, cancellation, dedupe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from knime_llm.errors import Cancelled, RowFailedError
from knime_llm.http.sender import Request
from knime_llm.results import RowResult
from knime_llm.runner import CANCELLED_BEFORE_SENDING, deduplicating, run_rows


async def chunked(rows: Sequence[object], size: int = 3) -> AsyncIterator[Sequence[object]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def as_request(row: object) -> Request | RowResult:
    return Request(str(row).encode())


async def collect(rows: Sequence[object], send, **kwargs) -> list[RowResult]:
    kwargs.setdefault("concurrency", 4)
    return [r async for r in run_rows(chunked(rows), kwargs.pop("prepare", as_request), send, **kwargs)]


class Recorder:
    """A fake send whose rows finish when the test says so (or after a given delay)."""

    def __init__(self, delays: dict[bytes, float] | None = None) -> None:
        self.delays = delays or {}
        self.started: list[bytes] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.gates: dict[bytes, asyncio.Event] = {}
        self.cancelled = 0

    def hold(self, payload: bytes) -> asyncio.Event:
        return self.gates.setdefault(payload, asyncio.Event())

    async def __call__(self, request: Request) -> RowResult:
        self.started.append(request.payload)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if request.payload in self.gates:
                await self.gates[request.payload].wait()
            await asyncio.sleep(self.delays.get(request.payload, 0))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        return RowResult(body=request.payload.decode(), status=200, attempts=1)


def test_results_come_back_in_input_order_whatever_finishes_first() -> None:
    delays = {str(i).encode(): (0.05 if i % 3 == 0 else 0.0) for i in range(20)}
    results = asyncio.run(collect(list(range(20)), Recorder(delays)))
    assert [r.body for r in results] == [str(i) for i in range(20)]


def test_a_slow_row_does_not_hold_up_the_rows_after_it() -> None:
    async def scenario() -> None:
        send = Recorder()
        slow = send.hold(b"0")
        stream = run_rows(chunked(list(range(12))), as_request, send, concurrency=3)
        first = asyncio.ensure_future(stream.__anext__())
        for _ in range(100):
            await asyncio.sleep(0.001)
            if len(send.started) == 12:
                break
        # Row 0 is still in flight, yet every other row has been sent: no waiting for groups.
        assert len(send.started) == 12 and not first.done()
        assert send.most_in_flight <= 3
        slow.set()
        assert (await first).body == "0"
        assert [r.body async for r in stream] == [str(i) for i in range(1, 12)]

    asyncio.run(scenario())


def test_workers_never_run_more_than_max_ahead_past_the_oldest_unfinished_row() -> None:
    async def scenario() -> None:
        send = Recorder()
        slow = send.hold(b"0")
        stream = run_rows(chunked(list(range(50))), as_request, send, concurrency=4, max_ahead=10)
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        assert len(send.started) == 10
        slow.set()
        await first
        assert len([r async for r in stream]) == 49

    asyncio.run(scenario())


def test_rows_that_cannot_be_sent_still_get_their_result_in_place() -> None:
    def prepare(row: object) -> Request | RowResult:
        return RowResult(error="validation: bad") if row == 2 else as_request(row)

    send = Recorder()
    results = asyncio.run(collect([0, 1, 2, 3], send, prepare=prepare))
    assert [r.error for r in results] == [None, None, "validation: bad", None]
    assert b"2" not in send.started


def test_an_unexpected_error_in_one_row_becomes_that_rows_error() -> None:
    def prepare(row: object) -> Request | RowResult:
        if row == 1:
            raise ValueError("surprise")
        return as_request(row)

    results = asyncio.run(collect([0, 1, 2], Recorder(), prepare=prepare))
    assert len(results) == 3 and results[0].ok and results[2].ok
    assert results[1].error == "internal error: ValueError: surprise (please report this)"


def test_progress_reports_rows_done_and_ends_with_the_total() -> None:
    calls: list[tuple[int, int | None]] = []
    asyncio.run(collect(list(range(7)), Recorder(), total=7, progress=lambda d, t: calls.append((d, t))))
    assert calls[-1] == (7, 7)
    assert all(0 <= d <= 7 for d, _ in calls)


def test_cancel_stops_sending_and_raises_promptly() -> None:
    async def scenario() -> Recorder:
        send = Recorder({str(i).encode(): 10.0 for i in range(100)})  # every request hangs
        flag = {"cancel": False}
        asyncio.get_running_loop().call_later(0.1, flag.update, {"cancel": True})
        with pytest.raises(Cancelled):
            await collect(list(range(100)), send, concurrency=5, cancelled=lambda: flag["cancel"])
        return send

    send = asyncio.run(scenario())
    assert len(send.started) == 5  # nothing was sent after the cancel
    assert send.cancelled == 5  # the hanging requests were aborted, not waited for


def test_cancel_with_drain_gives_one_result_per_row() -> None:
    async def scenario() -> list[RowResult]:
        send = Recorder({b"3": 10.0})
        flag = {"cancel": False}
        asyncio.get_running_loop().call_later(0.1, flag.update, {"cancel": True})
        rows = list(range(3)) + [3] + list(range(4, 40))
        return await collect(rows, send, concurrency=1, cancelled=lambda: flag["cancel"], drain_on_cancel=True)

    results = asyncio.run(scenario())
    assert len(results) == 40
    assert [r.ok for r in results[:3]] == [True, True, True]
    assert results[3].error.startswith("cancelled")
    assert all(r.error == CANCELLED_BEFORE_SENDING for r in results[4:])


def test_stop_on_error_raises_at_the_first_failed_row() -> None:
    def prepare(row: object) -> Request | RowResult:
        return RowResult(error="HTTP 400: nope") if row == 5 else as_request(row)

    with pytest.raises(RowFailedError, match="row 6 failed: HTTP 400: nope"):
        asyncio.run(collect(list(range(50)), Recorder(), prepare=prepare, stop_on_error=True, concurrency=2))


def test_dedupe_sends_identical_bodies_once() -> None:
    send = Recorder({b"a": 0.02})
    results = asyncio.run(collect(["a", "b", "a", "a", "b"], deduplicating(send)))
    assert sorted(send.started) == [b"a", b"b"]
    assert [r.body for r in results] == ["a", "b", "a", "a", "b"]
    assert [r.attempts for r in results] == [1, 1, 0, 0, 0]


def test_an_empty_input_yields_nothing() -> None:
    assert asyncio.run(collect([], Recorder())) == []


def test_cancel_while_the_next_chunk_is_being_read_still_drains_every_row() -> None:
    async def slow_chunks() -> AsyncIterator[Sequence[object]]:
        for start in range(0, 30, 3):
            await asyncio.sleep(0.03)  # reading the next chunk takes a while
            yield list(range(start, start + 3))

    async def scenario() -> list[RowResult]:
        flag = {"cancel": False}
        asyncio.get_running_loop().call_later(0.1, flag.update, {"cancel": True})
        return [r async for r in run_rows(slow_chunks(), as_request, Recorder(), concurrency=2, max_ahead=4,
                                          cancelled=lambda: flag["cancel"], drain_on_cancel=True)]

    results = asyncio.run(scenario())
    assert len(results) == 30
    assert results[0].ok and results[-1].error == CANCELLED_BEFORE_SENDING
