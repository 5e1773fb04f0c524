"""Where our CPU per row goes: the engine's pieces timed one at a time, in a process of its own.

::

    python bench/cpu_split.py --base-url URL --input FILE --rows N --concurrency C

prints one JSON line of CPU microseconds per row for

* ``build_validate``: ``Job.prepare`` (template render, schema check, JSON serialisation), with
  its three parts also timed alone;
* ``http``: the engine's :class:`~knime_llm.http.transport.Transport` posting prepared payloads to the
  instant server with C workers (aiohttp, the event loop, the system calls);
* ``parse``: turning a response into a :class:`RowResult` (``parse_success``), counting it in the
  :class:`Summary`, and building the parsed result columns (``result_arrays``);
* ``file_io``: reading the input file into row cells and writing the output file;
* ``engine_without_http``: the whole ``run_job`` with a transport that answers at once, so all
  but HTTP and files; minus ``build_validate`` and ``parse`` it is the orchestration (runner,
  sender, gate, tasks).

``run.py`` compares the sum with what the whole command line costs per row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latency

from knime_llm.bodies import SimpleBody, simple_body
from knime_llm.http.transport import Transport
from knime_llm.job import Job, Summary, make_validator
from knime_llm.results import RowResult, parse_success
from knime_llm.settings import Connection, Endpoint, Flavor, ResultFormat, RunOptions, Validation
from knime_llm.tablefiles import open_input, open_output

CHUNK = 10_000  # the command line's input batch size


def cpu_us(fn: Callable[[], Any], rows: int) -> float:
    """Process CPU microseconds per row of one call of ``fn`` (which handles ``rows`` rows)."""
    start = time.process_time()
    fn()
    return (time.process_time() - start) / rows * 1e6


def make_job(base_url: str, concurrency: int) -> Job:
    """The job the command line builds for the benchmark (simple mode, strict, parsed)."""
    return Job(
        Endpoint.CHAT,
        Connection(base_url=base_url, flavor=Flavor.NO_AUTH),
        RunOptions(concurrency=concurrency, result_format=ResultFormat.PARSED),
        simple_body(SimpleBody("prompt", "bench-model"), Endpoint.CHAT, ["prompt"]),
        make_validator(Endpoint.CHAT, Validation.STRICT),
    )


def build_validate(job: Job, rows: int) -> dict[str, float]:
    """``Job.prepare`` per row, and its render / check / serialise parts alone."""
    import orjson

    cells = [(latency.prompt(i),) for i in range(rows)]
    bodies = [job.body.render(c) for c in cells]
    validator = job.validator
    assert validator is not None
    return {
        "build_validate": cpu_us(lambda: [job.prepare(c) for c in cells], rows),
        "render": cpu_us(lambda: [job.body.render(c) for c in cells], rows),
        "validate": cpu_us(lambda: [validator.check(b) for b in bodies], rows),
        "serialise": cpu_us(lambda: [orjson.dumps(b) for b in bodies], rows),
    }


def http(job: Job, base_url: str, rows: int, concurrency: int) -> float:
    """The engine's transport alone: C workers posting prepared payloads to the instant server."""
    payloads = [job.prepare((latency.prompt(i),)).payload for i in range(rows)]  # type: ignore[union-attr]
    url = base_url.rstrip("/") + "/chat/completions"

    async def main() -> None:
        async with Transport(job.connection, concurrency) as transport:
            queue = iter(payloads)

            async def worker() -> None:
                for payload in queue:
                    reply = await transport.post(url, payload)
                    assert reply.status == 200, reply.text

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    return cpu_us(lambda: asyncio.run(main()), rows)


def parse(job: Job, texts: list[str]) -> tuple[float, list[Any]]:
    """Responses to results, the summary, and the parsed columns; returns the output batches."""
    import pyarrow as pa

    from knime_llm.job import _output  # the function run_job uses for each output chunk

    batches: list[Any] = []
    prompts = pa.array([latency.prompt(i) for i in range(len(texts))])

    def run() -> None:
        summary = Summary()
        for start in range(0, len(texts), CHUNK):
            results = []
            for text in texts[start : start + CHUNK]:
                data, problem = parse_success(text)
                result = RowResult(
                    body=text, status=200, error=problem, attempts=1, latency_ms=1.0, data=data
                )
                summary.add(result)
                results.append(result)
            batch = pa.record_batch([prompts[start : start + CHUNK]], names=["prompt"])
            batches.append(_output(job, batch, results))

    return cpu_us(run, len(texts)), batches


def file_io(job: Job, input_path: str, batches: list[Any]) -> float:
    """Reading the input into row cells and writing the output batches (Parquet, as in the runs)."""
    from knime_llm.job import _rows

    def run() -> None:
        with open_input(input_path) as table:
            for batch in table.batches():
                _rows(batch, job.body.columns)
        with (
            tempfile.TemporaryDirectory() as tmp,
            open_output(Path(tmp) / "out.parquet", batches[0].schema) as writer,
        ):
            for batch in batches:
                writer.write(batch)

    return cpu_us(run, sum(b.num_rows for b in batches))


def engine_without_http(job: Job, texts: list[str]) -> float:
    """``run_job`` over in-memory batches with the transport swapped for one that answers at once.

    Everything the engine does for a row except HTTP and files: bodies, validation, runner,
    sender, gate, parsing, summary, output columns. The swap is a monkeypatch of the name
    ``Transport`` in ``knime_llm.job`` for this process only.
    """
    import pyarrow as pa

    import knime_llm.job as job_module
    from knime_llm.http.transport import Reply

    class InstantTransport:
        def __init__(self, connection: Any, concurrency: int) -> None:
            self.answers = iter(texts)

        async def __aenter__(self) -> InstantTransport:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def post(self, url: str, payload: bytes, *, stream: bool = False) -> Reply:
            await asyncio.sleep(0)  # one event-loop turn, as a real answer takes at least one
            return Reply(200, {}, next(self.answers), 0.001)

    rows = len(texts)
    prompts = pa.array([latency.prompt(i) for i in range(rows)])
    batches = [pa.record_batch([prompts[at:at + CHUNK]], names=["prompt"])
               for at in range(0, rows, CHUNK)]
    original = job_module.Transport
    job_module.Transport = InstantTransport  # type: ignore[misc,assignment]
    try:
        return cpu_us(lambda: job_module.run_job(job, batches, lambda batch: None, total=rows,
                                                 threaded_io=False), rows)
    finally:
        job_module.Transport = original  # type: ignore[misc]


def responses(base_url: str, rows: int) -> list[str]:
    """Real response texts from the server, one per row (fetched once, not timed)."""
    import urllib.request

    texts = []
    url = base_url.rstrip("/") + "/chat/completions"
    for i in range(min(rows, 200)):
        body = json.dumps(
            {"model": "m", "messages": [{"role": "user", "content": latency.prompt(i)}]}
        )
        request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as reply:
            texts.append(reply.read().decode())
    return [texts[i % len(texts)] for i in range(rows)]


def main() -> None:
    """Measure every piece and print one JSON line (microseconds of CPU per row)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--input", required=True, help="Parquet prompt table with --rows rows")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    job = make_job(args.base_url, args.concurrency)
    split = build_validate(job, args.rows)
    split["http"] = http(job, args.base_url, args.rows, args.concurrency)
    texts = responses(args.base_url, args.rows)
    split["parse"], batches = parse(job, texts)
    split["file_io"] = file_io(job, args.input, batches)
    split["engine_without_http"] = engine_without_http(job, texts)
    print(json.dumps({name: round(value, 2) for name, value in split.items()}))


if __name__ == "__main__":
    main()
