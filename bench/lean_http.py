"""A minimal HTTP/1.1 keep-alive client on ``asyncio.Protocol``: the benchmark's lower bound.

Not a product client: plain HTTP only, Content-Length responses only, no timeouts, no retries,
one connection per worker. It shows what a Python asyncio client can cost per request when
nothing but the bytes is handled, and so what a purpose-built transport could gain over aiohttp
(``client.py lean`` runs it; RESULTS.md, "Engine diagnosis", uses it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit


class Connection(asyncio.Protocol):
    """One keep-alive connection; :meth:`post` sends a request and awaits (status, body)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.status = 0
        self.body_start = 0
        self.end: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.end is None:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            self.status = int(head[9:12])
            at = head.lower().find(b"\ncontent-length:")
            stop = head.find(b"\r", at + 1)
            length = int(head[at + 16:stop if stop >= 0 else len(head)]) if at >= 0 else 0
            self.body_start = head_end + 4
            self.end = self.body_start + length
        if len(self.buffer) >= self.end:
            body = self.buffer[self.body_start:self.end]
            self.buffer = self.buffer[self.end:]
            self.end = None
            waiter, self.waiter = self.waiter, None
            if waiter is not None:
                waiter.set_result((self.status, body))

    def post(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Send a complete request; the future gets (status, body)."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter


async def run(url: str, payloads: Callable[[int], bytes], rows: int, concurrency: int) -> int:
    """POST ``payloads(row)`` for every row with C workers; returns the number of 200 answers."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n")
    loop = asyncio.get_running_loop()
    rows_left = iter(range(rows))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        transport, connection = await loop.create_connection(Connection, host, port)
        try:
            for row in rows_left:
                payload = payloads(row)
                request = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
                status, body = await connection.post(request)
                body.decode()
                ok += status == 200
        finally:
            transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok
