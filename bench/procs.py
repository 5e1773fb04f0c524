"""Child processes for the benchmarks: load servers, and clients measured by their own rusage.

Each client runs in a process of its own, so its CPU time and peak RSS (from ``os.wait4``, for
that child alone) are not mixed with the server's or with another client's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable


class LoadServer:
    """A ``server.py`` process; use as a context manager. ``url`` is its ``/v1`` base URL."""

    def __init__(self, mode: str, **options: Any) -> None:
        args = [PYTHON, str(BENCH / "server.py"), "--mode", mode]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"load server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        """The server's counters (``GET /stats``)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        """Stop the server (SIGTERM to its own pid) and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LoadServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Child:
    """A finished child process: exit status, what it printed, and its own resource use."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    report: dict[str, Any] = field(default_factory=dict)


def run_parallel(
    commands: list[list[str]], timeout_s: float = 900.0, *, go: Path | None = None
) -> list[Child]:
    """Run commands side by side; return each one's result with its own CPU time and peak RSS.

    A command whose stdout ends with a JSON object line gets it parsed into ``report``.

    Args:
        commands: the command lines.
        timeout_s: the longest the whole batch may take.
        go: a start signal for clients run with ``--go`` (``client.py``): once every command
            has made ``<go>.<pid>.ready`` (imports done), ``go`` is created and they all start at
            once, so no client's timed part overlaps another's interpreter start-up.

    Raises:
        RuntimeError: a command failed (its stderr is in the message), or ran past the timeout.
    """
    started = time.perf_counter()
    running = []
    for args in commands:
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        running.append((args, subprocess.Popen(args, stdout=out, stderr=err, text=True), out, err))
    if go is not None:
        _start_together(go, [process for _, process, _, _ in running], started + timeout_s)
    finished: dict[int, tuple[int, Any, float]] = {}
    while len(finished) < len(running):  # poll all, so each child's wall time is its own
        for _, process, _, _ in running:
            if process.pid not in finished:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    finished[pid] = (status, usage, time.perf_counter() - started)
        if time.perf_counter() - started > timeout_s:
            for _, process, _, _ in running:
                if process.pid not in finished:
                    process.kill()
                    os.wait4(process.pid, 0)
            raise RuntimeError(f"benchmark children ran past {timeout_s:g} s")
        time.sleep(0.01)
    results = []
    for args, process, out, err in running:
        status, usage, wall = finished[process.pid]
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        child = Child(
            args,
            process.returncode,
            out.read(),
            err.read(),
            wall,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024.0,
        )
        out.close()
        err.close()
        if child.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:4])} ... failed ({child.returncode}): {child.stderr[-2000:]}"
            )
        last = child.stdout.strip().splitlines()[-1:] or [""]
        if last[0].startswith("{"):
            child.report = json.loads(last[0])
        results.append(child)
    return results


def _start_together(go: Path, processes: list[subprocess.Popen[str]], deadline: float) -> None:
    waiting = [go.with_name(f"{go.name}.{p.pid}.ready") for p in processes]
    # Not Popen.poll(): that would reap the child, and wait4 is what gives its resource use.
    while not all(path.exists() or _exited(p.pid) for path, p in zip(waiting, processes)):
        if time.perf_counter() > deadline:
            break
        time.sleep(0.01)
    go.touch()


def _exited(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def run_one(args: list[str], timeout_s: float = 900.0) -> Child:
    """Run one command alone (see :func:`run_parallel`)."""
    return run_parallel([args], timeout_s)[0]
