"""``make bench``: every benchmark of issue 5 in one run of under ten minutes on 2 cores.

::

    .venv/bin/python bench/run.py [--quick]

Writes ``bench/results.json``, ``bench/RESULTS.md`` and ``bench/throughput.png`` and prints the
table. The order is chosen for clean figures within the budget:

1. client cost (validation microseconds, CPU split, CPU per row against the instant server),
   one process at a time, then the 429 storm (ours, then the SDK, each alone: a client starved
   of CPU reads a 429 late);
2. throughput at concurrency 64 and 256, both latency shapes, one client at a time: these runs
   are CPU-bound for the SDK (and at 256 for every client), so nothing runs beside them;
3. throughput at concurrency 8: latency-bound (~160 requests a second per client), so the four
   clients of a latency shape run side by side, each with its own server and all starting
   together after their imports; the slowest, fixed groups on the heavy tail (~95 s), goes on
   in the background (a few percent of a core) while
4. the scale runs (10k, 100k, 1M rows) follow.

``--quick`` shrinks every size (a smoke test of the whole pipeline in about a minute).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report
import scale
import storm
import throughput
from procs import BENCH, PYTHON, LoadServer, run_one
from prompts import write_prompts
from throughput import Run

CPU_ROWS = 20_000


def log(message: str, started: float) -> None:
    """A progress line on stderr with the time since the start."""
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)


def _script(name: str, *args: Any) -> list[str]:
    return [PYTHON, str(BENCH / name), *(str(a) for a in args)]


def client_cost(workdir: Path, rows: int) -> dict[str, Any]:
    """Validation per body, our CPU per row against the instant server, and its split."""
    validation = run_one(_script("validation_cost.py")).report
    source = workdir / f"prompts-{rows}.parquet"
    with LoadServer("instant", rows=rows) as server:
        common = ("--base-url", server.url, "--rows", rows, "--concurrency", 64)
        ours = run_one(_script("client.py", "ours", *common, "--input", source,
                               "--output", workdir / "cost-out.parquet"))
        bare = run_one(_script("client.py", "bare", *common))
        split = run_one(_script("cpu_split.py", *common, "--input", source)).report
    run_us = 1e6 * ours.report["cpu_s"] / rows
    split["orchestration"] = round(split["engine_without_http"] - split["build_validate"]
                                   - split["parse"], 2)
    split["rest_by_difference"] = round(run_us - split["engine_without_http"] - split["http"]
                                        - split["file_io"], 2)
    return {
        "validation": validation,
        "split_us_per_row": split,
        "ours": {"rows": rows, "concurrency": 64, "cpu_ms_per_row": round(run_us / 1000.0, 4),
                 "rows_per_s": round(rows / ours.report["wall_s"]),
                 "startup_cpu_s": round(ours.cpu_s - ours.report["cpu_s"], 3)},
        "bare": {"cpu_ms_per_row": round(1000.0 * bare.report["cpu_s"] / rows, 4),
                 "rows_per_s": round(rows / bare.report["wall_s"])},
    }


def main() -> None:
    """Run everything, write the results, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=BENCH, help="where to write the results")
    args = parser.parse_args()
    rows = 500 if args.quick else 5000
    cpu_rows = 2000 if args.quick else CPU_ROWS
    scale_rows = [1000, 10_000] if args.quick else [10_000, 100_000, 1_000_000]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="knime-llm-bench-") as tmp:
        workdir = Path(tmp)
        log("writing the prompt tables", started)
        for n in sorted({rows, cpu_rows, storm.ROWS, *scale_rows}):
            write_prompts(workdir / f"prompts-{n}.parquet", n)
        results: dict[str, Any] = {"machine": report.machine(), "figures": {}}
        figures = results["figures"]

        log("client cost: validation, CPU per row and its split (instant server)", started)
        results["client_cost"] = client_cost(workdir, cpu_rows)
        log("429 storm: ours, then the SDK, each alone with its server", started)
        results["storm_runs"] = storm.measure(workdir)

        for shape in throughput.SHAPES:
            for concurrency in (64, 256):
                for kind in throughput.ALL_KINDS:
                    log(f"throughput {kind} {shape} C={concurrency} (alone)", started)
                    figures.update(
                        throughput.measure([Run(kind, shape, concurrency, rows)], workdir)
                    )

        log("throughput C=8, fixed latency: the four clients side by side", started)
        figures.update(
            throughput.measure([Run(k, "fixed", 8, rows) for k in throughput.ALL_KINDS], workdir)
        )
        log(
            "throughput C=8, heavy tail: side by side; fixed groups go on in the background",
            started,
        )
        slowest = Run("groups", "lognormal", 8, rows)
        background: dict[str, Any] = {}
        tail = threading.Thread(
            target=lambda: background.update(throughput.measure([slowest], workdir))
        )
        tail.start()
        figures.update(
            throughput.measure(
                [Run(k, "lognormal", 8, rows) for k in throughput.ALL_KINDS if k != slowest.kind],
                workdir,
            )
        )

        log(f"scale: knime-llm chat on {', '.join(f'{n:,}' for n in scale_rows)} rows", started)
        results["scale"] = scale.measure(scale_rows, workdir)
        tail.join()
        figures.update(background)
        figures[slowest.key]["side_by_side_with"] = (
            "the other heavy-tail C=8 runs, then the scale runs"
        )

    results["rows"] = rows
    results["floors"] = {
        f"{s}/{c}": throughput.floors(s, rows, c)
        for s in throughput.SHAPES
        for c in throughput.CONCURRENCIES
    }
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    log(f"done in {results['elapsed_s']} s; writing results", started)
    final = report.write(results, args.out)
    print(report.table(final))


if __name__ == "__main__":
    main()
