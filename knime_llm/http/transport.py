"""HTTP to the API: one aiohttp session per run, one request per call, failures as plain values.

aiohttp was chosen by measurement (bench/RESULTS.md): against a local server it spends about
0.2 ms of CPU per request where requests with a thread pool spends over 1 ms and the openai SDK
about 2 ms, and the throughput targets leave room for no more. The session's connection pool is
sized to the run's concurrency, proxies come from the environment (HTTP(S)_PROXY, NO_PROXY), and
TLS is verified unless the user turns it off. The proxy is looked up once per run rather than
through aiohttp's ``trust_env``, which looks it up in a worker thread for every request: measured,
that thread hop more than tripled the CPU spent per request.

This is the only module that sees the API key in clear, and the only place where aiohttp's
exceptions are turned into :class:`TransportFailure` (timeout or connection, with a message that
names the host but never a header).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from .. import __version__
from ..settings import Connection, Flavor
from .streaming import StreamAssembler

_USER_AGENT = f"knime-llm/{__version__}"
_REDACTED = "***"


@dataclass(slots=True)
class Reply:
    """A response: status, headers and body text (an assembled one for streams)."""

    status: int
    headers: Mapping[str, str]
    text: str
    seconds: float


class TransportFailure(Exception):
    """No response came: ``kind`` is ``"timeout"`` or ``"connection"``.

    ``retryable`` is False for failures another attempt cannot fix (a TLS certificate the
    machine does not trust).
    """

    def __init__(self, kind: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable


def request_headers(connection: Connection) -> dict[str, str]:
    """The headers every request of a run carries, including the auth header for the flavor."""
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "User-Agent": _USER_AGENT}
    key = connection.api_key.reveal() if connection.api_key else ""
    if key and connection.flavor is Flavor.OPENAI:
        headers["Authorization"] = f"Bearer {key}"
    elif key and connection.flavor is Flavor.AZURE:
        headers["api-key"] = key
    if connection.organization:
        headers["OpenAI-Organization"] = connection.organization
    if connection.project:
        headers["OpenAI-Project"] = connection.project
    headers.update(connection.headers)
    return headers


def endpoint_url(connection: Connection, path: str) -> str:
    """The full URL of an endpoint, with Azure's ``api-version`` query parameter when needed."""
    url = connection.url(path)
    version = connection.effective_api_version
    return f"{url}?api-version={version}" if version else url


def _ssl_setting(connection: Connection) -> Any:
    if not connection.verify_tls:
        return False
    if connection.ca_bundle:
        return ssl.create_default_context(cafile=connection.ca_bundle)
    return True


class Transport:
    """One HTTP session for a whole run. Use as ``async with Transport(conn, n) as transport``."""

    def __init__(self, connection: Connection, concurrency: int) -> None:
        self.connection = connection
        self._concurrency = concurrency
        self._headers = request_headers(connection)
        self._secret = connection.api_key.reveal() if connection.api_key else ""
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    async def __aenter__(self) -> Transport:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connection.connect_timeout_s,
                                        sock_read=self.connection.read_timeout_s)
        connector = aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=0,
                                         ssl=_ssl_setting(self.connection))
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                              headers=self._headers)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, payload: bytes, *, stream: bool = False) -> Reply:
        """POST a JSON payload; a 2xx event-stream answer is assembled into one JSON response.

        Raises:
            TransportFailure: no response came (timeout, refused, reset, TLS, proxy).
        """
        return await self._send("POST", url, payload, stream)

    async def get(self, url: str) -> Reply:
        """GET a URL (used to check a connection with ``/models``).

        Raises:
            TransportFailure: no response came.
        """
        return await self._send("GET", url, None, False)

    async def _send(self, method: str, url: str, payload: bytes | None, stream: bool) -> Reply:
        assert self._session is not None, "use Transport as an async context manager"
        started = time.perf_counter()
        headers = {"Accept": "text/event-stream"} if stream else None
        try:
            proxy = self._proxies.get(url, "")
            if proxy == "":
                proxy = self._proxies[url] = environment_proxy(url)
            async with self._session.request(method, url, data=payload, headers=headers,
                                             proxy=proxy) as response:
                content_type = response.headers.get("Content-Type", "")
                if stream and response.status < 300 and content_type.startswith("text/event-stream"):
                    text = await _read_stream(response)
                else:
                    text = (await response.read()).decode("utf-8", errors="replace")
                status, reply_headers = response.status, response.headers
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
            raise self._failure(err, url) from None
        if self._secret and self._secret in text:
            text = text.replace(self._secret, _REDACTED)
        return Reply(status, reply_headers, text, time.perf_counter() - started)

    def _failure(self, err: BaseException, url: str) -> TransportFailure:
        return failure_for(err, url, self.connection)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) names for a URL, if any."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


async def _read_stream(response: aiohttp.ClientResponse) -> str:
    assembler = StreamAssembler()
    async for raw in response.content:
        assembler.feed(raw.decode("utf-8", errors="replace"))
    assembler.close()
    return orjson.dumps(assembler.result()).decode()


def failure_for(err: BaseException, url: str, connection: Connection) -> TransportFailure:
    """Map an aiohttp/OS exception to a :class:`TransportFailure` with a message for users.

    Messages are built from the URL's host and the error's kind, never from ``str(err)`` of
    proxy errors (a proxy URL may hold a password).
    """
    host = urlsplit(url).hostname or url
    if isinstance(err, aiohttp.ConnectionTimeoutError):
        return TransportFailure("timeout", f"timeout: could not connect to {host} within "
                                f"{connection.connect_timeout_s:g} s")
    if isinstance(err, (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return TransportFailure("timeout", f"timeout: no response from {host} within "
                                f"{connection.read_timeout_s:g} s (read timeout)")
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        return TransportFailure("connection", f"connection: the TLS certificate of {host} is not trusted; "
                                "give a CA bundle, or turn TLS verification off for a test server",
                                retryable=False)
    if isinstance(err, aiohttp.ClientSSLError):
        return TransportFailure("connection", f"connection: TLS handshake with {host} failed "
                                "(is the URL http rather than https?)", retryable=False)
    if isinstance(err, (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError)):
        return TransportFailure("connection", f"connection: the proxy for {host} failed; check HTTP(S)_PROXY")
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return TransportFailure("connection", f"connection: cannot resolve host {host}; check the base URL")
    if isinstance(err, aiohttp.ClientConnectorError):
        reason = err.os_error.strerror or type(err.os_error).__name__
        return TransportFailure("connection", f"connection: cannot connect to {host}:{err.port} ({reason})")
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return TransportFailure("connection", f"connection: {host} closed the connection without a response")
    if isinstance(err, aiohttp.ClientPayloadError):
        return TransportFailure("connection", f"connection: the response from {host} was cut off")
    if isinstance(err, (aiohttp.ClientOSError, ConnectionError)):
        return TransportFailure("connection", f"connection: the connection to {host} was reset")
    return TransportFailure("connection", f"connection: request to {host} failed ({type(err).__name__})")
