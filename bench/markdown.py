"""RESULTS.md, written from the content of results.json (see ``report.py``).

Prose that does not change between runs is kept in templates here; every number comes from the
run's figures, except the engine diagnosis (``explain.DIAGNOSIS``), which is dated.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from explain import DIAGNOSIS

HEADER = """\
# Benchmark results

Written by `make bench` (`bench/run.py`) on {date} in {elapsed:.0f} s. Machine: {cpu}, {cores}
cores, Python {python}, aiohttp {aiohttp}, openai {openai}, jsonschema-rs {rs}, uvloop {uvloop}
(server only). Load average at start {load_start}, at end {load_end}: the machine is shared, so
every comparison below is between figures of this one run.

## How it was measured

* **Server** (`server.py`): its own process, a bare `asyncio.Protocol` HTTP/1.1 keep-alive
  server on uvloop (aiohttp.web costs several times the CPU per request, and the server shares
  the 2 cores with the client under test), answering a 470-byte `chat.completion` with usage.
  Latency is a function of the row number in the prompt: fixed 50 ms, or lognormal σ=1 capped at
  2 s, seeded and scaled to a mean of exactly 50 ms, so every client gets the same latencies.
* **Clients** (`client.py`), each in its own process, timed from before the client is built to
  the last answer (imports excluded): knime-llm is its command line (`knime-llm chat`, Parquet
  in and out, strict validation, parsed output); the openai SDK is `AsyncOpenAI` with a
  semaphore (`max_retries=0`, its default HTTP client); fixed groups run the SDK in groups of C,
  each waiting for its slowest row (how KNIME's AI extension batches); bare aiohttp is one
  session and a semaphore, with no validation and no parsing.
* **Floor**: a zero-overhead in-order sliding window with C slots on the same per-row latencies
  (for 50 ms fixed, ceil(N/C)·50 ms). N = {rows:,}.
* **Side by side**: at concurrency 8 every run is latency-bound (about 160 requests a second: a
  few percent of a core for knime-llm, under half a core for the SDK), so to fit ten minutes the
  four C=8 clients of a latency shape ran side by side, each with its own server, all starting
  together once their imports were done; fixed groups on the heavy tail (95 s) kept running in
  the background during the scale runs. Runs at 64 and 256 are CPU-bound for the SDK (and close
  to it for everyone at 256) and ran one at a time, as did the client-cost and storm runs.
"""

TIME_SPLIT = """\
## Where the time above the floor went

Outside the server: from the start of the client to the first request, and from the last
answer to the end (set-up, the output of the last chunk). Server lateness: the load server's
own timers firing late (uvloop, 1 ms resolution), the same for every client. Turnaround: the
rest, from an answer arriving to that slot's next request reaching the server, summed over the
N/C rounds. Gap: the server's own measure of that, the mean time from an answer leaving to the
next request arriving on the same connection.
"""

CLIENT_COST = """\
## Client cost

Against the instant server, {rows:,} rows at concurrency 64: **{cpu} ms of CPU per row** for the
whole run (reading, bodies, validation, HTTP, parsing, writing; {rate:,} rows/s); interpreter
start-up and imports are another {startup} s per run. The bare aiohttp client: {bare} ms per
row. The split, from timing the engine's pieces alone (`cpu_split.py`), in µs of CPU per row:
"""

SPLIT_NOTE = """\
`build_validate` is `Job.prepare` (render + validate + serialise, each also shown alone); `http`
is the engine's Transport alone posting to the instant server (aiohttp, event loop, system
calls); `parse` is `parse_success`, the summary and the parsed columns; `file_io` is
reading the Parquet input and writing the output; `engine_without_http` is `run_job` with a
transport that answers at once, and `orchestration` is that minus `build_validate` and `parse`
(runner, sender, gate, tasks). `rest_by_difference` is the whole run minus
`engine_without_http`, `http` and `file_io`: near zero when the pieces add up.

Validation of one typical chat body (system and user message, temperature,
max_completion_tokens) against the shipped schema, µs per body:
"""

WHY_RS = """\
Why jsonschema-rs: it is the only one that keeps validation a rounding error of the per-row
budget (about a microsecond, against hundreds for Python jsonschema and fastjsonschema on this
schema of large `anyOf`s); it implements draft 2020-12, which the schema declares
(fastjsonschema knows drafts 4, 6 and 7 only, so its right verdicts here are luck of the
keywords used); all agree on the sample bodies. Python jsonschema is kept for invalid bodies
only, where it builds the one-line message.
"""

SCALE_NOTE = """\
`knime-llm chat` with its defaults (concurrency 16) and `--format parsed`, Parquet in and
out, against the instant server; peak RSS of the process from `wait4`. These runs shared the
machine with the background C=8 groups run (a latency-bound client using a few percent of a
core).
"""

STORM = """\
## 429 storm

The server allows {rate} requests per {window:g} s window (windows start at the first request)
and answers the rest with 429, `retry-after-ms` and `retry-after` up to the next window; latency
{latency:g} ms, {rows:,} rows, concurrency {concurrency}. The least time the limit allows is
{minimum:.2f} s (whole windows, then the last window's rows in ceil(rows/C) latencies). A
request counts as sent during a cooldown when it arrives more than ε = 20 ms after the window's
first 429 left the server: requests already on their way, or sent while the client was still
working through the same batch of answers, are not violations (ε is 2 % of a window and a small
part of any cooldown; a client that ignores cooldowns is counted by the hundred, see the SDK).
The histogram shows where every arrival after a first 429 fell.
"""


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(final: dict[str, Any], text_table: str, labels: dict[str, str],
             storm: ModuleType) -> str:
    """The whole RESULTS.md."""
    d = final["detail"]
    m = d["machine"]
    v = m["versions"]
    cost = d["client_cost"]
    parts = [
        HEADER.format(date=m["date"], elapsed=d["elapsed_s"], cpu=m["cpu"], cores=m["cores"],
                      python=m["python"], aiohttp=v["aiohttp"], openai=v["openai"],
                      rs=v["jsonschema-rs"], uvloop=v["uvloop"], rows=d["rows"],
                      load_start=_loads(m["load_average_at_start"]),
                      load_end=_loads(d["load_average_at_end"])),
        "## Throughput\n\n```\n" + text_table + "\n```\n",
        "![rows per second against concurrency](throughput.png)\n",
        "## Targets\n",
        table(["target", "value", "met"],
              [[t["target"], t["value"], "yes" if t["met"] else "**no**"]
               for t in final["targets"]]) + "\n",
        TIME_SPLIT,
        table(["run", "floor s", "wall s", "outside server s", "server late s", "turnaround s",
               "ms per round", "gap ms", "CPU ms/row"],
              [[k, s["floor_s"], s["wall_s"], s["outside_server_s"], s["server_late_s"],
                s["turnaround_s"], s["turnaround_ms_per_round"], s["server_gap_ms"],
                s["cpu_ms_per_row"]] for k, s in sorted(d["time_split"].items())]) + "\n",
        CLIENT_COST.format(rows=cost["ours"]["rows"], cpu=final["cpu_ms_per_row"],
                           rate=cost["ours"]["rows_per_s"], startup=cost["ours"]["startup_cpu_s"],
                           bare=cost["bare"]["cpu_ms_per_row"]),
        table(["piece", "µs/row"], [[k, x] for k, x in cost["split_us_per_row"].items()]) + "\n",
        SPLIT_NOTE,
        table(["validator", "µs/body", "verdicts on the sample bodies", "note"],
              [[k, x["us_per_body"], x.get("sample_verdicts", ""), x["note"]]
               for k, x in cost["validation"].items()]) + "\n",
        WHY_RS,
        "## Scale\n",
        table(["rows", "peak RSS MB", "rows/s (run)", "wall s incl. start-up", "failed"],
              [[f"{int(n):,}", s["max_rss_mb"], f"{s['rows_per_s']:,.0f}",
                s["wall_s_with_startup"], s["failed"]] for n, s in d["scale"].items()]) + "\n",
        SCALE_NOTE,
        STORM.format(rate=storm.RATE, window=storm.WINDOW_S, latency=storm.LATENCY_MS,
                     rows=storm.ROWS, concurrency=storm.CONCURRENCY, minimum=storm.minimum_s()),
        table(["client", "s", "ratio to minimum", "requests", "429s", "during cooldown (>ε)",
               "arrivals after first 429"],
              [[labels[k], s["wall_s"], s["ratio_to_minimum"], s["requests"], s["rate_limited"],
                s["requests_during_cooldown"],
                ", ".join(f"{b} {n}" for b, n in s["arrivals_after_first_429"].items() if n)]
               for k, s in d["storm"].items()]) + "\n",
        "## Engine diagnosis\n",
        DIAGNOSIS,
        "## Missed targets: why, and what would reach them\n",
    ]
    missed = [t for t in final["targets"] if not t["met"]]
    if not missed:
        parts.append("None.\n")
    for t in missed:
        parts.append(f"* **{t['target']}**: {t['value']}. {t['why']}.\n"
                     f"  What would reach it: {t['would_reach']}")
    return "\n".join(parts) + "\n"


def _loads(values: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in values)
