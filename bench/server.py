"""A lean OpenAI-shaped load server for the benchmarks, run in a process of its own.

::

    python bench/server.py --mode fixed [--rows 5000] [--port 0]   # prints "PORT <n>", then serves

It answers ``POST .../chat/completions`` with a realistic ``chat.completion`` (~400 bytes, with
usage) and ``GET /stats`` with its counters as JSON. Modes:

* ``instant``: answer at once (client cost benchmarks);
* ``fixed``: every row waits ``--latency-ms`` (50 ms);
* ``lognormal``: a heavy tail with the same mean (σ=1, capped at 2 s); each row's latency is a
  seeded function of the row number read from the prompt (see ``latency.py``), so every client
  sees the same per-row latencies;
* ``storm``: fixed latency, plus a rate limit of ``--rate`` requests per ``--window-s`` window
  (windows start at the first request); requests over it get 429 with ``retry-after-ms`` and
  ``retry-after`` pointing at the next window, and requests arriving while that announced
  cooldown is in force are counted (see :class:`Storm`).

Why not aiohttp.web: on this 2-core machine the server shares the CPU with the client under
test, and aiohttp.web spends several times the CPU per request of this bare ``asyncio.Protocol``
(HTTP/1.1 keep-alive, Content-Length bodies, no pipelining needed: clients send one request per
connection at a time). uvloop is used when installed.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latency

_BODY = (
    '{"id":"chatcmpl-bench%07d","object":"chat.completion","created":1767225600,'
    '"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant",'
    '"content":"Reply to row %d: late delivery, quick and helpful support.","refusal":null},'
    '"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":31,'
    '"completion_tokens":12,"total_tokens":43,"prompt_tokens_details":{"cached_tokens":0},'
    '"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_bench"}'
)
_RATE_LIMITED = (
    b'{"error":{"message":"Rate limit reached for requests. Please try again later.",'
    b'"type":"requests","param":null,"code":"rate_limit_exceeded"}}'
)
_NOT_FOUND = b'{"error":{"message":"not found","type":"invalid_request_error"}}'


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class Storm:
    """A fixed-window rate limit that answers 429 and counts requests ignoring its cooldowns.

    A 429 announces a cooldown until the window ends. Requests that reach the server after
    that are counted, but only those arriving more than ``epsilon`` after the *first* 429 of the
    window left: requests the client had already sent before the 429 could reach it are not its
    fault. On loopback a response reaches the client within microseconds, but a busy client may
    read a whole batch of responses in one event-loop turn and send follow-ups for the earlier
    ones before it gets to the 429 in the same batch; ``epsilon`` (20 ms by default, 2 % of a
    window, far less than the hundreds of milliseconds a cooldown lasts) covers that. Every
    arrival during a cooldown is also put in a histogram by its delay after the first 429, so
    the choice can be judged from ``/stats``.
    """

    BUCKETS_MS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)

    def __init__(self, rate: int, window_s: float, epsilon_ms: float) -> None:
        self.rate = rate
        self.window_s = window_s
        self.epsilon_s = epsilon_ms / 1000.0
        self.origin: float | None = None
        self.window = -1
        self.used = 0
        self.first_429: float | None = None
        self.limited = 0
        self.during_cooldown = 0
        self.cooldowns = 0
        self.histogram = [0] * (len(self.BUCKETS_MS) + 1)
        self.late_arrivals: list[
            tuple[int, float, float]
        ] = []  # (window, ms into it, ms after 429)

    def admit(self, now: float) -> float | None:
        """None when the request may be served, else the seconds until the next window."""
        if self.origin is None:
            self.origin = now
        window = int((now - self.origin) // self.window_s)
        if window != self.window:
            self.window, self.used, self.first_429 = window, 0, None
        if self.first_429 is not None:
            offset = now - self.first_429
            self.histogram[bisect.bisect_left(self.BUCKETS_MS, offset * 1000.0)] += 1
            if offset > self.epsilon_s:
                self.during_cooldown += 1
                if len(self.late_arrivals) < 20:
                    into = now - self.origin - window * self.window_s
                    self.late_arrivals.append(
                        (window, round(into * 1000.0, 2), round(offset * 1000.0, 2))
                    )
        if self.used < self.rate:
            self.used += 1
            return None
        if self.first_429 is None:
            self.first_429 = now
            self.cooldowns += 1
        self.limited += 1
        return self.origin + (window + 1) * self.window_s - now

    def stats(self) -> dict[str, object]:
        """Counters for ``/stats``."""
        labels = [f"<={b:g}ms" for b in self.BUCKETS_MS] + [f">{self.BUCKETS_MS[-1]:g}ms"]
        return {
            "rate": self.rate,
            "window_s": self.window_s,
            "epsilon_ms": self.epsilon_s * 1000.0,
            "rate_limited": self.limited,
            "cooldowns": self.cooldowns,
            "requests_during_cooldown": self.during_cooldown,
            "arrivals_after_first_429": dict(zip(labels, self.histogram)),
            "late_arrivals": self.late_arrivals,
        }


class Server:
    """Shared state: latencies, counters, and the storm limiter when in storm mode."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.mode = args.mode
        if args.mode in ("fixed", "storm"):
            self.table = latency.fixed(args.rows, args.latency_ms / 1000.0)
        else:
            self.table = latency.latencies(args.mode, args.rows)
        self.storm = (
            Storm(args.rate, args.window_s, args.epsilon_ms) if args.mode == "storm" else None
        )
        self.loop = asyncio.get_running_loop()
        self.requests = 0
        self.ok = 0
        self.open = 0
        self.max_open = 0
        self.connections = 0
        self.first = 0.0
        self.last = 0.0
        self.late_s = 0.0  # how much later than due the delayed answers went out, summed
        self.late_max_s = 0.0
        self.delayed = 0
        self.gap_s = 0.0  # from an answer leaving to the next request on that connection arriving
        self.gaps = 0
        self.cpu_start = time.process_time()

    def stats(self) -> bytes:
        """The counters as JSON."""
        data: dict[str, object] = {
            "mode": self.mode,
            "requests": self.requests,
            "ok": self.ok,
            "connections": self.connections,
            "max_open_connections": self.max_open,
            "busy_s": round(self.last - self.first, 6),
            "late_ms_mean": round(1000.0 * self.late_s / max(self.delayed, 1), 4),
            "late_ms_max": round(1000.0 * self.late_max_s, 4),
            "client_gap_ms_mean": round(1000.0 * self.gap_s / max(self.gaps, 1), 4),
            "cpu_s": round(time.process_time() - self.cpu_start, 4),
        }
        if self.storm is not None:
            data.update(self.storm.stats())
        return json.dumps(data).encode()

    def delay(self, body: bytes) -> tuple[int, float]:
        """The row number of a request and how long to wait before answering it."""
        row = latency.row_of(body)
        return row, (self.table[row % len(self.table)] if self.table else 0.0)


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: parse requests, answer after the row's latency."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.answered: float | None = None  # when the last answer on this connection left

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        s = self.server
        s.connections += 1
        s.open += 1
        s.max_open = max(s.max_open, s.open)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.open -= 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            at = head.lower().find(b"\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r", at + 1)
                length = int(head[at + 16 : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            self.handle(head[: head.find(b" HTTP/")], body)

    def handle(self, line: bytes, body: bytes) -> None:
        """Answer one request (``line`` is ``METHOD PATH``)."""
        s = self.server
        if line.startswith(b"GET /stats"):
            self.send(_response("200 OK", s.stats()))
            return
        if not (line.startswith(b"POST ") and line.endswith(b"/chat/completions")):
            self.send(_response("404 Not Found", _NOT_FOUND))
            return
        now = s.loop.time()
        if self.answered is not None:
            s.gaps += 1
            s.gap_s += now - self.answered
            self.answered = None
        if not s.requests:
            s.first = now
        s.requests += 1
        if s.storm is not None:
            wait = s.storm.admit(now)
            if wait is not None:
                extra = (
                    f"retry-after-ms: {math.ceil(wait * 1000.0)}\r\n"
                    f"retry-after: {math.ceil(wait)}\r\n"
                )
                self.send(_response("429 Too Many Requests", _RATE_LIMITED, extra))
                return
        row, delay = s.delay(body)
        reply = _response("200 OK", (_BODY % (s.requests, row)).encode())
        if delay > 0.0:
            s.loop.call_at(now + delay, self.answer, reply, now + delay)
        else:
            self.answer(reply, None)

    def answer(self, reply: bytes, due: float | None) -> None:
        """Send a successful reply and count it (and, for a delayed one, how late it went out)."""
        s = self.server
        s.ok += 1
        s.last = s.loop.time()
        if due is not None:
            late = max(0.0, s.last - due)
            s.delayed += 1
            s.late_s += late
            s.late_max_s = max(s.late_max_s, late)
        self.answered = s.last
        self.send(reply)

    def send(self, data: bytes) -> None:
        """Write unless the client has gone."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="OpenAI-shaped load server for the benchmarks")
    parser.add_argument(
        "--mode", choices=["instant", "fixed", "lognormal", "storm"], default="instant"
    )
    parser.add_argument("--rows", type=int, default=5000, help="rows in the latency table")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=latency.MEAN_S * 1000.0,
        help="latency of fixed and storm modes",
    )
    parser.add_argument("--rate", type=int, default=500, help="storm: requests per window")
    parser.add_argument("--window-s", type=float, default=1.0, help="storm: window length")
    parser.add_argument(
        "--epsilon-ms",
        type=float,
        default=20.0,
        help="storm: grace after a 429 for requests already in flight",
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="event loop (uvloop when installed)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    return parser


async def _serve(args: argparse.Namespace) -> None:
    server = Server(args)
    listener = await server.loop.create_server(
        lambda: Connection(server), args.host, args.port, backlog=4096
    )
    port = listener.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        server.loop.add_signal_handler(sig, stop.set)
    async with listener:
        await stop.wait()


def main() -> None:
    """Parse the options and serve until SIGTERM or SIGINT."""
    args = _parser().parse_args()
    try:
        import uvloop
    except ImportError:
        uvloop = None
    if args.loop == "uvloop" and uvloop is not None:
        uvloop.run(_serve(args))
    else:
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
