"""A whole run: table chunks in, bodies built and checked, rows sent, result chunks out.

This is the one entry point the command line and the KNIME nodes share::

    batches ──► body (templates/bodies) ──► validation ──► sender (gate, retry, transport)
            ◄── output batch = input columns + result columns (results) ◄── runner (in order)

Input chunks are read, and output chunks written, while requests are in flight; each output
chunk is written as soon as all of its rows are answered, so memory stays flat however long the
table is.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import pyarrow as pa

from .errors import RowError
from .http.ratelimit import Gate
from .http.sender import Request, Sender
from .http.transport import Transport, endpoint_url
from .results import RowResult, failed, result_arrays, result_columns
from .runner import Progress, deduplicating, run_rows, run_sync
from .settings import Connection, Endpoint, RunOptions, Validation
from .tables import column_values, unique_names
from .templates import Template
from .validation import BodyValidator

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """Everything a run needs besides its rows.

    Attributes:
        endpoint: chat or completion.
        connection: where to send, with the key.
        options: concurrency, validation, retries, limits, output format.
        body: the compiled body source (template, body column or simple mode).
        validator: the compiled schema validator; None when validation is off.
        cells: reads one column of a batch as JSON-compatible values for the body; the KNIME
            nodes give one that first decodes KNIME's own column types.
    """

    endpoint: Endpoint
    connection: Connection
    options: RunOptions
    body: Template
    validator: BodyValidator | None = None
    cells: Callable[[pa.RecordBatch, str], list[Any]] = column_values

    def result_columns(self) -> tuple[tuple[str, pa.DataType], ...]:
        """The columns a run appends (names before clash handling), with their Arrow types."""
        return result_columns(self.endpoint, self.options.result_format,
                              with_warning=self.options.validation is Validation.WARN)

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        """The schema of the output: the input columns, then the result columns."""
        columns = self.result_columns()
        names = unique_names(input_schema.names, [name for name, _ in columns])
        return pa.schema(list(input_schema) + [pa.field(n, t) for n, (_, t) in zip(names, columns)],
                         metadata=input_schema.metadata)

    def prepare(self, cells: Sequence[Any]) -> Request | RowResult:
        """Turn one row's cells into a request, or into a final result when it cannot be sent."""
        try:
            body = self.body.render(cells)
        except RowError as err:
            return failed(f"body: {err}")
        warning = None
        if self.validator is not None:
            problem = self.validator.check(body)
            if problem is not None:
                if self.options.validation is Validation.STRICT:
                    return failed(f"validation: {problem}")
                warning = f"validation: {problem}"
        try:
            payload = orjson.dumps(body)
        except TypeError as err:  # an integer beyond 64 bits, say
            return failed(f"body: cannot be written as JSON ({err})")
        stream = isinstance(body, dict) and body.get("stream") is True
        return Request(payload, stream, self._tokens(body, payload), warning)

    def _tokens(self, body: Any, payload: bytes) -> int:
        if not self.options.limits.tokens_per_minute:
            return 0
        # A rough count (4 bytes a token) plus the reply allowance; corrected by the real usage.
        limit = 0
        if isinstance(body, dict):
            for key in ("max_completion_tokens", "max_tokens"):
                if isinstance(body.get(key), int):
                    limit = body[key]
                    break
        return len(payload) // 4 + limit


@dataclass
class Summary:
    """What a run did, for the summary line and the nodes' flow variables."""

    rows: int = 0
    ok: int = 0
    failed: int = 0
    requests: int = 0
    reused: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    elapsed_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, result: RowResult) -> None:
        """Count one row's result."""
        self.rows += 1
        self.requests += result.attempts
        if result.ok:
            self.ok += 1
        else:
            self.failed += 1
            self.errors[_error_kind(result.error or "")] += 1
        if result.attempts == 0 and result.data is not None:
            self.reused += 1
        elif result.data is not None:
            usage = result.data.get("usage")
            if isinstance(usage, dict):
                self.prompt_tokens += _count(usage.get("prompt_tokens"))
                self.completion_tokens += _count(usage.get("completion_tokens"))
                self.total_tokens += _count(usage.get("total_tokens"))

    def line(self) -> str:
        """One line: rows ok and failed (by kind), tokens, time and rate."""
        text = f"{self.rows:,} rows: {self.ok:,} ok, {self.failed:,} failed"
        if self.errors:
            text += " (" + ", ".join(f"{kind}: {n:,}" for kind, n in self.errors.most_common(4)) + ")"
        if self.reused:
            text += f", {self.reused:,} answered from identical rows"
        text += (f" · {self.total_tokens:,} tokens ({self.prompt_tokens:,} prompt, "
                 f"{self.completion_tokens:,} completion)")
        rate = self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return text + f" · {self.elapsed_s:.1f} s ({rate:,.1f} rows/s)"


def _error_kind(error: str) -> str:
    head = error.split(":", 1)[0]
    return head if len(head) <= 24 else "error"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def run_job(job: Job, batches: Iterable[pa.RecordBatch], write: Callable[[pa.RecordBatch], None], *,
            total: int | None = None, progress: Progress | None = None,
            cancelled: Callable[[], bool] | None = None, drain_on_cancel: bool = False,
            threaded_io: bool = True) -> Summary:
    """Run a job over input batches, calling ``write`` with each finished output batch, in order.

    Args:
        job: what to send and how.
        batches: the input, in chunks of one fixed schema.
        write: receives each output batch (input columns + result columns).
        total: number of input rows, for progress.
        progress: called with (rows done, total), throttled.
        cancelled: polled while the run goes on; True stops sending at once.
        drain_on_cancel: on cancel, still write one row per input row (the rest as "cancelled").
        threaded_io: read and write in a worker thread while requests are in flight (False when
            the caller's table objects may only be used from the calling thread).

    Returns:
        The run's :class:`Summary`.

    Raises:
        Cancelled: the run was cancelled (and ``drain_on_cancel`` is False).
        RowFailedError: a row failed and the options say to stop at the first failure.
    """
    return run_sync(_run_job(job, iter(batches), write, total, progress, cancelled, drain_on_cancel,
                              threaded_io))


#: Rows per output batch. Small, so that building one (about 12 µs a row) never holds the event
#: loop up for long, nor the end of a run; all but the last batch have this size, as KNIME's
#: BatchOutputTable requires.
OUTPUT_ROWS = 1024


async def _run_job(job: Job, batches: Iterator[pa.RecordBatch], write: Callable[[pa.RecordBatch], None],
                   total: int | None, progress: Progress | None, cancelled: Callable[[], bool] | None,
                   drain_on_cancel: bool, threaded_io: bool) -> Summary:
    summary = Summary()
    started = time.perf_counter()
    options = job.options
    waiting = _WaitingRows()

    async def call(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args) if threaded_io else fn(*args)

    async def chunks() -> AsyncIterator[Sequence[Any]]:
        batch = await call(next, batches, None)
        while batch is not None:
            following = asyncio.ensure_future(call(next, batches, None))  # read ahead
            try:
                if batch.num_rows:  # an empty chunk adds no rows; the writer already has the schema
                    waiting.add(batch)
                    yield _rows(job, batch)
                batch = await following
            finally:
                if not following.done():
                    following.cancel()

    def emit(rows: pa.RecordBatch, results: Sequence[RowResult]) -> None:
        write(_output(job, rows, results))

    async with Transport(job.connection, options.concurrency) as transport:
        gate = Gate(options.concurrency, options.limits)
        sender = Sender(transport, endpoint_url(job.connection, job.endpoint.path), gate, options.retry)
        send = deduplicating(sender.send) if options.deduplicate else sender.send
        done: list[RowResult] = []
        async for result in run_rows(chunks(), job.prepare, send, concurrency=options.concurrency,
                                     total=total, progress=progress, cancelled=cancelled,
                                     stop_on_error=options.stop_on_error, drain_on_cancel=drain_on_cancel):
            summary.add(result)
            done.append(result)
            if len(done) == OUTPUT_ROWS:
                await call(emit, waiting.take(OUTPUT_ROWS), done)
                done = []
        if done:
            await call(emit, waiting.take(len(done)), done)
    summary.elapsed_s = time.perf_counter() - started
    return summary


class _WaitingRows:
    """Input rows whose results are not written yet; hands them out in input order, in slices."""

    def __init__(self) -> None:
        self.batches: deque[pa.RecordBatch] = deque()
        self.offset = 0  # rows of the first batch already handed out

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def take(self, count: int) -> pa.RecordBatch:
        """The next ``count`` rows as one batch (joined when they span input batches)."""
        parts = []
        while count:
            head = self.batches[0]
            part = head.slice(self.offset, count)
            parts.append(part)
            count -= part.num_rows
            self.offset += part.num_rows
            if self.offset == head.num_rows:
                self.batches.popleft()
                self.offset = 0
        if len(parts) == 1:
            return parts[0]
        return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


def _rows(job: Job, batch: pa.RecordBatch) -> Sequence[Sequence[Any]]:
    columns = job.body.columns
    if not columns:
        return [()] * batch.num_rows
    return list(zip(*(job.cells(batch, name) for name in columns)))


def _output(job: Job, rows: pa.RecordBatch, results: Sequence[RowResult]) -> pa.RecordBatch:
    arrays = result_arrays(results, job.endpoint, job.options.result_format,
                           with_warning=job.options.validation is Validation.WARN)
    return pa.RecordBatch.from_arrays(list(rows.columns) + arrays, schema=job.output_schema(rows.schema))


def check_schema(input_schema: pa.Schema) -> pa.Schema:
    """The schema ``knime-llm validate`` writes: the input columns, then ``valid`` and ``error``."""
    names = unique_names(input_schema.names, ["valid", "error"])
    return pa.schema(list(input_schema) + [pa.field(names[0], pa.bool_()), pa.field(names[1], pa.string())],
                     metadata=input_schema.metadata)


def check_job(job: Job, batches: Iterable[pa.RecordBatch], *,
              write: Callable[[pa.RecordBatch], None] | None = None,
              report: Callable[[int, str], None] | None = None) -> tuple[int, int]:
    """Build and validate every row's body without sending anything.

    Args:
        job: the job whose bodies and validator to use.
        batches: the input.
        write: receives each input batch with ``valid`` and ``error`` appended.
        report: called with (row index, error) for each row that would not be sent.

    Returns:
        (valid rows, invalid rows).
    """
    valid = invalid = 0
    schema: pa.Schema | None = None
    for batch in batches:
        errors = []
        for cells in _rows(job, batch):
            prepared = job.prepare(cells)
            error = prepared.error if isinstance(prepared, RowResult) else None
            if error is not None and report is not None:
                report(valid + invalid, error)
            valid, invalid = (valid + 1, invalid) if error is None else (valid, invalid + 1)
            errors.append(error)
        if write is not None:
            schema = schema or check_schema(batch.schema)
            arrays = [pa.array([e is None for e in errors], pa.bool_()), pa.array(errors, pa.string())]
            write(pa.RecordBatch.from_arrays(list(batch.columns) + arrays, schema=schema))
    return valid, invalid


def make_validator(endpoint: Endpoint, validation: Validation,
                   schema_file: str | None = None) -> BodyValidator | None:
    """The validator a run uses: None when validation is off.

    Raises:
        SchemaError: the schema file cannot be read or lacks the endpoint's request schema.
    """
    if validation is Validation.OFF:
        return None
    return BodyValidator.for_endpoint(endpoint, schema_file)
