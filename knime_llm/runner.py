"""The batch runner: a sliding window of requests, one result per row, in input order.

``concurrency`` workers each take the next row as soon as their previous one is done, so a slow
row never holds up the others (no waiting for a whole group). Results are handed back strictly
in input order; rows that finish early wait in a buffer, and workers never run more than
``max_ahead`` rows past the oldest unfinished one, so memory stays bounded on any input size.

Rows arrive as an async iterator of chunks; turning a row into a request (templating,
validation, serialisation) happens in the worker right before sending, so that work is spread
between network waits instead of stalling the event loop one chunk at a time.

Every row yields exactly one :class:`~knime_llm.results.RowResult`: a row whose preparation or
sending hits an unexpected error gets an ``internal error`` result instead of ending the run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from .errors import Cancelled, RowFailedError
from .http.sender import Request
from .results import RowResult

log = logging.getLogger(__name__)
T = TypeVar("T")

Prepare = Callable[[Any], "Request | RowResult"]
Send = Callable[[Request], Awaitable[RowResult]]
Progress = Callable[[int, "int | None"], None]

CANCELLED_BEFORE_SENDING = "cancelled: the run was cancelled before this row was sent"
CANCELLED_IN_FLIGHT = "cancelled: the run was cancelled while this row was in progress"
_PROGRESS_INTERVAL_S = 0.1
_CANCEL_POLL_S = 0.05


def default_max_ahead(concurrency: int) -> int:
    """How far workers may run ahead of the oldest unfinished row (bounds the reorder buffer)."""
    return max(10_000, 64 * concurrency)


async def run_rows(chunks: AsyncIterator[Sequence[Any]], prepare: Prepare, send: Send, *,
                   concurrency: int, total: int | None = None, progress: Progress | None = None,
                   cancelled: Callable[[], bool] | None = None, stop_on_error: bool = False,
                   drain_on_cancel: bool = False, max_ahead: int | None = None,
                   ) -> AsyncIterator[RowResult]:
    """Run every row and yield one result per row, in input order.

    Args:
        chunks: the rows, in chunks (any sequence type); read lazily.
        prepare: turns a row into a :class:`Request`, or into a final :class:`RowResult` when
            the row cannot be sent (bad cell, invalid body).
        send: sends a request and returns its result (never raises for a row's failure).
        concurrency: how many requests may be in flight at once.
        total: the number of rows, for progress (None when unknown).
        progress: called with (rows finished, total) at most every 0.1 s and once at the end.
        cancelled: polled every 50 ms; when it returns True nothing more is sent.
        stop_on_error: stop at the first failed row and raise :class:`RowFailedError`.
        drain_on_cancel: after a cancel, yield the finished rows and a "cancelled" result for
            every other row (the command line keeps one output row per input row); otherwise
            raise :class:`Cancelled` at once.
        max_ahead: bound of the reorder buffer (default :func:`default_max_ahead`).

    Raises:
        Cancelled: ``cancelled()`` became True and ``drain_on_cancel`` is False.
        RowFailedError: a row failed and ``stop_on_error`` is True.
    """
    run = _Run(chunks, prepare, send, concurrency, total, progress, stop_on_error,
               max_ahead or default_max_ahead(concurrency))
    async for result in run.results(cancelled, drain_on_cancel):
        yield result


class _Run:
    def __init__(self, chunks: AsyncIterator[Sequence[Any]], prepare: Prepare, send: Send,
                 concurrency: int, total: int | None, progress: Progress | None,
                 stop_on_error: bool, max_ahead: int) -> None:
        self.chunks = chunks.__aiter__()
        self.prepare = prepare
        self.send = send
        self.concurrency = concurrency
        self.total = total
        self.progress = progress
        self.stop_on_error = stop_on_error
        self.max_ahead = max_ahead
        self.rows: Sequence[Any] = ()
        self.pos = 0
        self.exhausted = False
        self.fetch: asyncio.Future[Sequence[Any] | None] | None = None
        self.taken = 0  # index of the next row to hand out
        self.head = 0  # index of the next row to yield
        self.finished: dict[int, RowResult] = {}
        self.done = 0
        self.live_workers = 0
        self.changed = asyncio.Event()  # a row finished or a worker stopped
        self.advanced = asyncio.Event()  # the head moved: workers held back by max_ahead may go on
        self.failure: RowFailedError | None = None
        self.crash: BaseException | None = None
        self.cancel_requested = False
        self.last_progress = 0.0

    async def take(self) -> tuple[int, Any] | None:
        while True:
            if self.pos < len(self.rows):
                if self.taken - self.head < self.max_ahead:
                    break
                self.advanced.clear()
                await self.advanced.wait()
                continue
            if self.exhausted:
                return None
            if self.fetch is None:
                self.fetch = asyncio.ensure_future(_next_chunk(self.chunks))
            fetch = self.fetch
            # Shielded: a worker cancelled while it waits must not cancel the read itself, or the
            # source would be closed and the rows after it lost for a draining cancel.
            rows = await asyncio.shield(fetch)
            if self.fetch is fetch:  # the first waiter to wake installs the chunk
                self.fetch = None
                if rows is None:
                    self.exhausted = True
                else:
                    self.rows, self.pos = rows, 0
        row = self.rows[self.pos]
        self.pos += 1
        index = self.taken
        self.taken += 1
        return index, row

    async def worker(self) -> None:
        try:
            while not self.cancel_requested and self.failure is None:
                item = await self.take()
                if item is None:
                    return
                index, row = item
                self.finish(index, await self.process(row))
        except asyncio.CancelledError:
            raise
        except BaseException as err:  # a bug in a source iterator: end the run loudly
            self.crash = err
        finally:
            self.live_workers -= 1
            self.changed.set()

    async def process(self, row: Any) -> RowResult:
        try:
            prepared = self.prepare(row)
            if isinstance(prepared, RowResult):
                return prepared
            return await self.send(prepared)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.exception("internal error while processing a row")
            return RowResult(error=f"internal error: {type(err).__name__}: {err} (please report this)")

    def finish(self, index: int, result: RowResult) -> None:
        self.finished[index] = result
        self.done += 1
        if self.stop_on_error and result.error is not None and self.failure is None:
            self.failure = RowFailedError(index, result.error)
        self.report(force=False)
        self.changed.set()

    def report(self, *, force: bool) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last_progress >= _PROGRESS_INTERVAL_S:
            self.last_progress = now
            self.progress(self.done, self.total)

    async def watch(self, cancelled: Callable[[], bool]) -> None:
        while not cancelled():
            await asyncio.sleep(_CANCEL_POLL_S)
        self.cancel_requested = True
        self.changed.set()

    async def results(self, cancelled: Callable[[], bool] | None,
                      drain_on_cancel: bool) -> AsyncIterator[RowResult]:
        self.live_workers = self.concurrency
        workers = [asyncio.create_task(self.worker()) for _ in range(self.concurrency)]
        watcher = asyncio.create_task(self.watch(cancelled)) if cancelled else None
        try:
            while True:
                while self.head in self.finished:
                    result = self.finished.pop(self.head)
                    self.head += 1
                    self.advanced.set()
                    yield result
                if self.crash is not None:
                    raise self.crash
                if self.failure is not None:
                    raise self.failure
                if self.cancel_requested:
                    break
                if self.live_workers == 0 and self.head not in self.finished:
                    self.report(force=True)
                    return
                self.changed.clear()
                await self.changed.wait()
        finally:
            for task in workers + ([watcher] if watcher else []):
                task.cancel()
            await asyncio.gather(*workers, *([watcher] if watcher else []), return_exceptions=True)
            if self.fetch is not None and not (self.cancel_requested and drain_on_cancel):
                self.fetch.cancel()
        # Cancelled: stop at once, or hand back one result for every row (done or not).
        if not drain_on_cancel:
            raise Cancelled(f"cancelled after {self.done} of {self.total or self.taken} rows")
        for index in range(self.head, self.taken):
            yield self.finished.pop(index, None) or RowResult(error=CANCELLED_IN_FLIGHT)
        self.head = self.taken
        while await self.take() is not None:
            self.head = self.taken  # nothing is in flight any more: the look-ahead bound is moot
            yield RowResult(error=CANCELLED_BEFORE_SENDING)


async def _next_chunk(chunks: AsyncIterator[Sequence[Any]]) -> Sequence[Any] | None:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code (the CLI, a KNIME node's execute)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside a running loop (a notebook, say): run ours in a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def deduplicating(send: Send) -> Send:
    """Wrap ``send`` so identical payloads within a run are sent once and share the answer.

    Rows answered from an earlier identical row get ``attempts == 0``. The table of answers is
    kept for the whole run (keyed by a 16-byte hash), which is the memory this option costs.
    """
    answers: dict[bytes, asyncio.Future[RowResult]] = {}

    async def send_once(request: Request) -> RowResult:
        key = hashlib.blake2b(request.payload, digest_size=16).digest()
        earlier = answers.get(key)
        if earlier is not None:
            return dataclasses.replace(await asyncio.shield(earlier), attempts=0)
        future: asyncio.Future[RowResult] = asyncio.get_running_loop().create_future()
        answers[key] = future
        try:
            result = await send(request)
        except BaseException:
            del answers[key]
            future.cancel()
            raise
        future.set_result(result)
        return result

    return send_once
