"""Checking a connection: ``GET {base_url}/models`` with the run's key and headers.

Used by the OpenAI Connector's optional check, so a wrong key or URL is reported when the
connection is set up rather than as thousands of failed rows later.
"""

from __future__ import annotations

import orjson

from ..errors import ConfigError
from ..results import http_error
from ..runner import run_sync
from ..settings import Connection
from .transport import Transport, TransportFailure, endpoint_url


def list_models(connection: Connection) -> list[str]:
    """The model ids the endpoint lists.

    Raises:
        ConfigError: with what went wrong and how to fix it: the key was rejected (401/403), the
            URL has no ``/models`` (404: usually a base URL without ``/v1``), another HTTP error,
            or no connection at all.
    """
    url = endpoint_url(connection, "models")

    async def fetch() -> tuple[int, str]:
        async with Transport(connection, 1) as transport:
            reply = await transport.get(url)
            return reply.status, reply.text

    try:
        status, text = run_sync(fetch())
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
