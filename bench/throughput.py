"""Latency-bound throughput: each client against its own load server, compared with the floor.

A run is (client, latency shape, concurrency) on N rows. Each run gets a fresh server process,
so counters and per-row latencies start from scratch, and the client runs in a process of its
own. Runs that are bound by latency, not CPU (concurrency 8: about 160 requests a second per
client), may be started side by side to fit the time budget; CPU-bound runs go one at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import latency
from procs import BENCH, PYTHON, LoadServer, run_parallel

KINDS = ("ours", "sdk", "groups", "bare")
#: The issue's four clients plus ``lean``, the lower bound of a Python asyncio client.
ALL_KINDS = KINDS + ("lean",)
SHAPES = ("fixed", "lognormal")
CONCURRENCIES = (8, 64, 256)


@dataclass(frozen=True)
class Run:
    """One measurement to make."""

    kind: str
    shape: str
    concurrency: int
    rows: int

    @property
    def key(self) -> str:
        """``kind/shape/concurrency``, the key of its figures in ``results.json``."""
        return f"{self.kind}/{self.shape}/{self.concurrency}"


def floors(shape: str, rows: int, concurrency: int) -> dict[str, float]:
    """The zero-overhead sliding-window floor, N·L/C, and the fixed-groups floor, in seconds."""
    values = latency.latencies(shape, rows)
    return {
        "floor_s": latency.sliding_window_floor(values, concurrency),
        "nlc_s": rows * latency.MEAN_S / concurrency,
        "groups_floor_s": latency.groups_floor(values, concurrency),
    }


def measure(runs: list[Run], workdir: Path) -> dict[str, dict[str, Any]]:
    """Run the given runs side by side (each with its own server) and return their figures."""
    servers = [LoadServer(run.shape, rows=run.rows) for run in runs]
    go = workdir / f"go-{time.monotonic_ns()}"
    try:
        commands = [
            _command(run, server.url, workdir) + ["--go", str(go)]
            for run, server in zip(runs, servers)
        ]
        children = run_parallel(commands, go=go)
        stats = [server.stats() for server in servers]
    finally:
        for server in servers:
            server.stop()
    figures = {}
    for run, child, stat in zip(runs, children, stats):
        report = child.report
        figures[run.key] = {
            "wall_s": report["wall_s"],
            "cpu_s": report["cpu_s"],
            "ok": report["ok"],
            "failed": report["failed"],
            "cpu_ms_per_row": round(1000.0 * report["cpu_s"] / run.rows, 4),
            "process_cpu_s": round(child.cpu_s, 3),
            "max_rss_mb": round(child.max_rss_mb, 1),
            "side_by_side_with": len(runs) - 1,
            "server": {
                k: stat[k]
                for k in (
                    "requests",
                    "max_open_connections",
                    "connections",
                    "busy_s",
                    "late_ms_mean",
                    "client_gap_ms_mean",
                    "cpu_s",
                )
            },
        }
    return figures


def _command(run: Run, url: str, workdir: Path) -> list[str]:
    args = [
        PYTHON,
        str(BENCH / "client.py"),
        run.kind,
        "--base-url",
        url,
        "--rows",
        str(run.rows),
        "--concurrency",
        str(run.concurrency),
    ]
    if run.kind == "ours":
        name = f"{run.shape}-{run.concurrency}"
        args += [
            "--input",
            str(workdir / f"prompts-{run.rows}.parquet"),
            "--output",
            str(workdir / f"out-{name}.parquet"),
        ]
    return args


def ratios(figures: dict[str, dict[str, Any]], rows: int) -> dict[str, dict[str, dict[str, float]]]:
    """The ``throughput`` section of ``results.json``: per shape and concurrency, the ratios."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for shape in SHAPES:
        for concurrency in CONCURRENCIES:
            ours = figures.get(f"ours/{shape}/{concurrency}")
            if ours is None:
                continue
            floor = floors(shape, rows, concurrency)["floor_s"]
            entry = {"ratio_to_ideal": round(ours["wall_s"] / floor, 3)}
            for kind in ("sdk", "groups", "bare"):
                other = figures.get(f"{kind}/{shape}/{concurrency}")
                if other is not None:
                    entry[f"{kind}_over_ours"] = round(other["wall_s"] / ours["wall_s"], 3)
            table.setdefault(shape, {})[str(concurrency)] = entry
    return table
