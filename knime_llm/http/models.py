"""Listing a server's models: ``GET {base_url}/models`` with the run's key and headers.

Used by the OpenAI Connector's optional check, so a wrong key or URL is reported when the
connection is set up rather than as thousands of failed rows later, and by the request nodes'
dialogs to offer the server's models. Both callers need it bounded in time and stoppable: the
whole listing has a deadline, and a cancel callback is polled while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson

from ..errors import Cancelled, ConfigError
from ..results import http_error
from ..runner import run_sync
from ..settings import Connection
from .transport import Transport, TransportFailure, endpoint_url

T = TypeVar("T")

#: How often a cancel callback is asked while the listing waits for the server.
POLL_S = 0.1


def list_models(connection: Connection, *, deadline_s: float | None = None,
                cancelled: Callable[[], bool] | None = None) -> list[str]:
    """The model ids the endpoint lists.

    Args:
        connection: where to ask, with the key.
        deadline_s: the longest the whole listing may take (None: only the connection's own
            connect and read timeouts bound it).
        cancelled: polled every :data:`POLL_S` seconds while waiting; True stops at once.

    Raises:
        Cancelled: ``cancelled()`` turned True.
        ConfigError: with what went wrong and how to fix it: the key was rejected (401/403), the
            URL has no ``/models`` (404: usually a base URL without ``/v1``), another HTTP error,
            no answer within the deadline, or no connection at all.
    """
    url = endpoint_url(connection, "models")

    async def fetch() -> tuple[int, str]:
        async with Transport(connection, 1) as transport:
            reply = await transport.get(url)
            return reply.status, reply.text

    try:
        status, text = run_sync(_watched(fetch(), deadline_s, cancelled, url))
    except TransportFailure as failure:
        raise ConfigError(f"cannot reach {connection.base_url}: {failure.message}") from None
    if status in (401, 403):
        raise ConfigError(f"the API key was rejected ({http_error(status, text)}); check the credentials "
                          "and that the flavor (OpenAI or Azure) matches the server")
    if status == 404:
        raise ConfigError(f"{url} was not found (HTTP 404); check the base URL, which usually ends in /v1 "
                          "(for Azure: …/openai/deployments/<deployment> or …/openai/v1)")
    if not 200 <= status < 300:
        raise ConfigError(f"checking the connection failed: {http_error(status, text)}")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ConfigError(f"{url} answered, but not with JSON; is this an OpenAI-compatible API?") from None
    items = data.get("data") if isinstance(data, dict) else None
    return [str(m.get("id")) for m in items or [] if isinstance(m, dict) and m.get("id")]


async def _watched(work: Awaitable[T], deadline_s: float | None, cancelled: Callable[[], bool] | None,
                   url: str) -> T:
    """Await ``work``, giving up at the deadline or as soon as ``cancelled()`` says so."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    end = None if deadline_s is None else loop.time() + deadline_s
    try:
        while True:
            wait = POLL_S if end is None else max(0.0, min(POLL_S, end - loop.time()))
            done, _ = await asyncio.wait({task}, timeout=wait)
            if done:
                return task.result()
            if cancelled is not None and cancelled():
                raise Cancelled("cancelled while listing the models")
            if end is not None and loop.time() >= end:
                raise ConfigError(f"{url} did not answer within {deadline_s:g} s")
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
