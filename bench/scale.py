"""Scale: peak RSS and rows per second of ``knime-llm chat`` on long tables, instant server.

The command line runs as a console script in a child process (its default concurrency, strict
validation, parsed output, Parquet in and out); its peak RSS comes from ``os.wait4`` for
that child alone, its rows per second from its own summary line (the run, without interpreter
start-up), and its wall time including start-up is kept too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from procs import LoadServer, run_parallel
from prompts import write_prompts

CLI = str(Path(sys.executable).with_name("knime-llm"))
_SUMMARY = re.compile(
    r"([\d,]+) rows: ([\d,]+) ok, ([\d,]+) failed.* ([\d.]+) s \(([\d,.]+) rows/s\)"
)


def command(url: str, source: Path, target: Path) -> list[str]:
    """The command line a user would type for the run."""
    return [
        CLI,
        "chat",
        str(source),
        str(target),
        "--base-url",
        url,
        "--prompt-column",
        "prompt",
        "--model",
        "bench-model",
        "--format",
        "parsed",
    ]


def measure(rows_list: list[int], workdir: Path) -> dict[str, dict[str, Any]]:
    """Run the command line once per row count, one after the other; figures per row count."""
    figures = {}
    for rows in rows_list:
        source = workdir / f"prompts-{rows}.parquet"
        if not source.exists():
            write_prompts(source, rows)
        target = workdir / f"scale-out-{rows}.parquet"
        with LoadServer("instant", rows=1) as server:
            child = run_parallel([command(server.url, source, target)], timeout_s=1200)[0]
            stats = server.stats()
        target.unlink(missing_ok=True)
        match = _SUMMARY.search(child.stdout)
        if match is None:
            raise RuntimeError(f"no summary line from knime-llm: {child.stdout[-500:]!r}")
        done, ok, failed, seconds, rate = (float(g.replace(",", "")) for g in match.groups())
        figures[str(rows)] = {
            "rows": int(done),
            "ok": int(ok),
            "failed": int(failed),
            "max_rss_mb": round(child.max_rss_mb, 1),
            "run_s": seconds,
            "rows_per_s": rate,
            "wall_s_with_startup": round(child.wall_s, 2),
            "process_cpu_s": round(child.cpu_s, 2),
            "cpu_ms_per_row_with_startup": round(1000.0 * child.cpu_s / rows, 4),
            "server_cpu_s": stats["cpu_s"],
        }
    return figures
