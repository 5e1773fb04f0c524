"""429 storm: a server that allows R requests per 1 s window, and clients that must respect it.

The server answers every request over the window's budget with 429 and ``retry-after-ms`` /
``retry-after`` until the next window, and counts the requests that arrive while a cooldown it
announced is in force (``server.py``, class ``Storm``, explains the grace for requests already in
flight). The least time the server allows for N rows is that of a client that sends R rows at
the very start of each window: ``floor((N-1)/R)`` whole windows, plus the rows of the last
window, which C slots need ``ceil(rows/C)`` latencies for. The budget (200 a second) is below
what even the SDK manages here, so every client runs into the limit.

Ours runs with its defaults (retries on, shared cooldown). For comparison the openai SDK runs
the same rows with a semaphore and ``max_retries`` high enough to finish: it honours
``retry-after-ms`` per request but has no shared cooldown.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from procs import BENCH, PYTHON, LoadServer, run_parallel

ROWS = 1200
RATE = 200
WINDOW_S = 1.0
LATENCY_MS = 20.0
CONCURRENCY = 64


def minimum_s(
    rows: int = ROWS,
    rate: int = RATE,
    window_s: float = WINDOW_S,
    latency_ms: float = LATENCY_MS,
    concurrency: int = CONCURRENCY,
) -> float:
    """The least time the server's rate limit allows for ``rows`` rows with C slots."""
    windows, last = divmod(rows - 1, rate)
    return windows * window_s + math.ceil((last + 1) / concurrency) * latency_ms / 1000.0


def measure(workdir: Path, kinds: tuple[str, ...] = ("ours", "sdk")) -> dict[str, dict[str, Any]]:
    """Run each client alone against a storm server of its own; figures per client.

    Alone, because a client starved of CPU reads a 429 late, and requests it let through its
    gate just before would count against it.
    """
    return {kind: _measure_one(kind, workdir) for kind in kinds}


def _measure_one(kind: str, workdir: Path) -> dict[str, Any]:
    args = [
        PYTHON,
        str(BENCH / "client.py"),
        kind,
        "--rows",
        str(ROWS),
        "--concurrency",
        str(CONCURRENCY),
        "--max-retries",
        "6" if kind == "ours" else "20",
    ]
    if kind == "ours":
        args += [
            "--input",
            str(workdir / f"prompts-{ROWS}.parquet"),
            "--output",
            str(workdir / "storm-out.parquet"),
        ]
    with LoadServer(
        "storm", rows=ROWS, rate=RATE, window_s=WINDOW_S, latency_ms=LATENCY_MS
    ) as server:
        report = run_parallel([args + ["--base-url", server.url]], timeout_s=300)[0].report
        stat = server.stats()
    least = minimum_s()
    return {
        "wall_s": report["wall_s"],
        "minimum_s": round(least, 3),
        "ratio_to_minimum": round(report["wall_s"] / least, 3),
        "ok": report["ok"],
        "failed": report["failed"],
        "requests": stat["requests"],
        "rate_limited": stat["rate_limited"],
        "cooldowns": stat["cooldowns"],
        "requests_during_cooldown": stat["requests_during_cooldown"],
        "epsilon_ms": stat["epsilon_ms"],
        "arrivals_after_first_429": stat["arrivals_after_first_429"],
        "late_arrivals_window_ms_into_ms_after_429": stat["late_arrivals"],
        "rows": ROWS,
        "rate_per_window": RATE,
        "window_s": WINDOW_S,
        "latency_ms": LATENCY_MS,
        "concurrency": CONCURRENCY,
    }
