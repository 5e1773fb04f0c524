"""A scriptable OpenAI-like HTTP server on 127.0.0.1 for the engine's tests.

It runs aiohttp's server in a thread of its own, so the code under test talks to it over a real
socket. Each test scripts what the server does: a queue of canned replies (status, headers, body,
delay, a connection reset, a server-sent event stream), or a function that answers each request.
Every request is recorded (path, headers, JSON body, arrival time) for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CHAT_OK = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello", "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6,
              "prompt_tokens_details": {"cached_tokens": 2},
              "completion_tokens_details": {"reasoning_tokens": 0}},
}


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = field(default_factory=lambda: CHAT_OK)  # dict/list → JSON; str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False  # close the socket without answering
    events: list[str] | None = None  # server-sent event lines (each sent as "data: <line>\n\n")
    content_type: str | None = None


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


class FakeAPI:
    """Start with ``with FakeAPI() as api:``; ``api.url`` is the base URL (ending in ``/v1``)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = Reply()
        self.handler: Callable[[Seen], Reply] | None = None
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order (then with ``default``)."""
        with self._lock:
            self.replies.extend(replies)

    def bodies(self) -> list[Any]:
        return [s.body for s in self.seen]

    def __enter__(self) -> FakeAPI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        seen = Seen(request.method, request.path, dict(request.query), dict(request.headers), body,
                    time.monotonic())
        with self._lock:
            self.seen.append(seen)
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = self.handler(seen) if self.handler else self.default
        assert reply is not None, "no reply scripted"
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.reset:
            request.transport.close()  # type: ignore[union-attr]
            raise asyncio.CancelledError
        if reply.events is not None:
            return await self._stream(request, reply)
        if isinstance(reply.body, (dict, list)):
            data, content_type = json.dumps(reply.body).encode(), "application/json"
        else:
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            content_type = "text/plain"
        headers = {"Content-Type": reply.content_type or content_type, **reply.headers}
        return web.Response(status=reply.status, body=data, headers=headers)

    async def _stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(status=reply.status,
                                      headers={"Content-Type": "text/event-stream", **reply.headers})
        await response.prepare(request)
        for line in reply.events or []:
            await response.write(f"data: {line}\n\n".encode())
        await response.write_eof()
        return response
