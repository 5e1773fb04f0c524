"""Settings of a run as frozen dataclasses, declared once and shared by the CLI and the nodes.

Every knob has its default here; the command line and the KNIME dialogs map their options onto
these classes and never repeat a default. Checks that need only the values themselves happen in
``__post_init__`` and raise :class:`~knime_llm.errors.ConfigError` with a message that says how to
fix the value.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields, replace
from urllib.parse import urlsplit

from .errors import ConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Azure OpenAI's generally available API version, used when the base URL needs one and none is set.
DEFAULT_AZURE_API_VERSION = "2024-10-21"


class Endpoint(enum.Enum):
    """The two OpenAI operations knime-llm calls."""

    CHAT = "chat"
    COMPLETION = "completion"

    @property
    def path(self) -> str:
        """Path below the base URL."""
        return "chat/completions" if self is Endpoint.CHAT else "completions"

    @property
    def schema_name(self) -> str:
        """Name of the request schema in the OpenAI spec."""
        return "CreateChatCompletionRequest" if self is Endpoint.CHAT else "CreateCompletionRequest"


class Flavor(enum.Enum):
    """How the API key is sent."""

    OPENAI = "openai"  # Authorization: Bearer <key>; OpenAI and most compatible servers
    AZURE = "azure"  # api-key: <key> header and an api-version query parameter
    NO_AUTH = "none"  # local servers: no key is sent


class Validation(enum.Enum):
    """What to do with a body the OpenAI schema rejects."""

    STRICT = "strict"  # not sent; the row's error says where and what
    WARN = "warn"  # sent; the problem is recorded in the row's warning
    OFF = "off"  # not checked


class ResultFormat(enum.Enum):
    """Which result columns a run adds."""

    RAW = "raw"  # body, status, error
    PARSED = "parsed"  # raw columns plus the parsed answer, usage, timing


class Secret:
    """A string that never shows itself in ``repr``, ``str``, logs or tracebacks.

    The value is reached only through :meth:`reveal`, at the one place that puts it on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value, for the HTTP header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


_RESERVED_HEADERS = frozenset({"authorization", "api-key", "content-type", "content-length", "host"})


def _has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def parse_header(text: str) -> tuple[str, str]:
    """Parse ``'Name: value'`` into a (name, value) pair, as given to ``--header``.

    Raises:
        ConfigError: the text has no colon, an empty name, or a name that is not a valid token.
    """
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise ConfigError(f"header {text!r} is not of the form 'Name: value'")
    if any(c.isspace() or c in '()<>@,;:\\"/[]?={}' for c in name):
        raise ConfigError(f"header name {name!r} may not contain spaces or separators")
    return name, value.strip()


@dataclass(frozen=True)
class Connection:
    """Where and how to reach the API. Holds the key only as a :class:`Secret`."""

    base_url: str = DEFAULT_BASE_URL
    flavor: Flavor = Flavor.OPENAI
    api_key: Secret | None = None
    api_version: str | None = None
    organization: str | None = None
    project: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 600.0
    verify_tls: bool = True
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"base URL {self.base_url!r} is not an http(s) URL; "
                "give one like https://api.openai.com/v1 or http://127.0.0.1:8000/v1"
            )
        if parts.query or parts.fragment:
            raise ConfigError(
                f"base URL {self.base_url!r} may not have a query or fragment; "
                "for Azure give the API version as its own setting"
            )
        if self.api_key is not None and _has_control_characters(self.api_key.reveal()):
            raise ConfigError("the API key contains a line break or another control character; "
                              "copy it again without them")
        for name, value in self.headers:
            if _has_control_characters(name + value):
                raise ConfigError(f"header {name!r} contains a line break or another control character")
            if name.lower() in _RESERVED_HEADERS:
                raise ConfigError(
                    f"header {name!r} is set by knime-llm itself; "
                    "give the key through the credentials or the API key setting instead"
                )
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ConfigError("timeouts must be greater than 0 seconds")

    def url(self, endpoint_path: str) -> str:
        """Full URL of an endpoint: the base URL with or without its trailing slash, then the path."""
        return self.base_url.strip().rstrip("/") + "/" + endpoint_path.lstrip("/")

    @property
    def effective_api_version(self) -> str | None:
        """The api-version query parameter to send, if any (Azure only)."""
        if self.flavor is not Flavor.AZURE:
            return None
        if self.api_version:
            return self.api_version
        # Azure's v1 API (…/openai/v1) takes no api-version; the classic deployment URLs need one.
        if self.base_url.strip().rstrip("/").endswith("/openai/v1"):
            return None
        return DEFAULT_AZURE_API_VERSION


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry a failed request."""

    max_retries: int = 6
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    #: A row that has waited this long in total for retries fails; so does one whose server asks
    #: for a longer wait than this (a daily quota, say): waiting would not help.
    max_wait_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError("max retries must be 0 or more")
        if self.initial_backoff_s < 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ConfigError("backoff must be 0 or more, and the cap no less than the first wait")
        if self.max_wait_s < 0:
            raise ConfigError("max wait must be 0 or more seconds")


@dataclass(frozen=True)
class RateLimits:
    """Optional budgets kept on our side, so the server's limits are not hit in the first place."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def __post_init__(self) -> None:
        for label, value in (("requests", self.requests_per_minute), ("tokens", self.tokens_per_minute)):
            if value is not None and value <= 0:
                raise ConfigError(f"{label} per minute must be greater than 0 (or unset for no limit)")


@dataclass(frozen=True)
class RunOptions:
    """How a batch is run."""

    concurrency: int = 16
    validation: Validation = Validation.STRICT
    result_format: ResultFormat = ResultFormat.RAW
    deduplicate: bool = False
    stop_on_error: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: RateLimits = field(default_factory=RateLimits)

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 4096:
            raise ConfigError(f"concurrency must be between 1 and 4096, not {self.concurrency}")


@dataclass(frozen=True)
class ApiConfig:
    """Everything about an endpoint except the key: what the KNIME configuration port carries.

    The key is named, never held: ``credential_name`` is the KNIME credentials flow variable
    whose password is the key, read only when a node executes.
    """

    connection: Connection = field(default_factory=Connection)
    credential_name: str = ""
    concurrency: int = RunOptions.concurrency
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: RateLimits = field(default_factory=RateLimits)

    def __post_init__(self) -> None:
        if self.connection.api_key is not None:
            raise ConfigError("an ApiConfig never holds the key; give the credentials name instead")
        RunOptions(concurrency=self.concurrency)  # same bounds as a run

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (no secret in it)."""
        connection = {f.name: getattr(self.connection, f.name) for f in fields(Connection) if f.name != "api_key"}
        connection["flavor"] = self.connection.flavor.value
        connection["headers"] = [list(h) for h in self.connection.headers]
        return {"connection": connection, "credential_name": self.credential_name,
                "concurrency": self.concurrency, "retry": asdict(self.retry), "limits": asdict(self.limits)}

    @classmethod
    def from_dict(cls, data: dict) -> ApiConfig:
        """The inverse of :meth:`to_dict`.

        Raises:
            ConfigError: the data is not what :meth:`to_dict` writes (or a value is out of range).
        """
        try:
            connection = dict(data["connection"])
            connection["flavor"] = Flavor(connection["flavor"])
            connection["headers"] = tuple((str(n), str(v)) for n, v in connection["headers"])
            return cls(Connection(**connection), str(data["credential_name"]), int(data["concurrency"]),
                       RetryPolicy(**data["retry"]), RateLimits(**data["limits"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"the OpenAI configuration is damaged ({err!r}); execute the connector again") from None

    def with_key(self, key: str | None) -> Connection:
        """The connection to use for requests, with the key read from the credentials."""
        if not key or self.connection.flavor is Flavor.NO_AUTH:
            return self.connection
        return replace(self.connection, api_key=Secret(key))
