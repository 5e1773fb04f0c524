"""One result per row, the error text for failed rows, and the result columns of the output.

Every row ends as a :class:`RowResult`, whatever happened: a body that failed validation, a
timeout, an HTTP error or a success. :func:`http_error` turns an error response into one line,
reading the OpenAI ``{"error": {...}}`` shape and the shapes real servers send instead (Prism's
``application/problem+json``, FastAPI's ``{"detail": ...}``, plain text). The column layout for
the raw and parsed formats is declared once here and shared by the CLI and the nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from .settings import Endpoint, ResultFormat


@dataclass(slots=True)
class RowResult:
    """What happened to one row.

    Attributes:
        body: the raw response text (kept for errors too); None when no response came.
        status: the HTTP status; None when no response came (or nothing was sent).
        error: None on success, else one line: validation, timeout, connection, or the HTTP
            status with the API's message.
        warning: a validation problem of a body that was sent anyway (validation "warn").
        attempts: how many requests were sent for this row (0 when none was).
        latency_ms: duration of the last attempt, from sending to the end of the response.
        data: the parsed JSON of a successful body, for the parsed columns and token counts.
    """

    body: str | None = None
    status: int | None = None
    error: str | None = None
    warning: str | None = None
    attempts: int = 0
    latency_ms: float | None = None
    data: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the row got a successful response."""
        return self.error is None

    @property
    def total_tokens(self) -> int:
        """Total tokens the response reports (0 when none)."""
        usage = self.data.get("usage") if self.data else None
        value = usage.get("total_tokens") if isinstance(usage, dict) else None
        return value if isinstance(value, int) else 0


def failed(message: str, *, warning: str | None = None) -> RowResult:
    """A row that was never sent (its body could not be built or failed validation)."""
    return RowResult(error=message, warning=warning)


def parse_success(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a 2xx body; returns (data, error) where error says why it is not a usable response."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None, f"the server answered 2xx with a body that is not JSON: {_clip(text)!r}"
    if not isinstance(data, dict):
        return None, "the server answered 2xx with JSON that is not an object"
    if "error" in data and "choices" not in data:
        return data, "error in response: " + _describe(data["error"])
    return data, None


def http_error(status: int, text: str) -> str:
    """One line for an error response: ``HTTP 400: <the API's message>``."""
    detail = ""
    try:
        data = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        detail = _from_error_body(data)
    elif text.strip() and data is None:
        detail = _clip(" ".join(text.split()))
    return f"HTTP {status}: {detail}" if detail else f"HTTP {status}"


def _from_error_body(data: dict[str, Any]) -> str:
    if "error" in data:  # OpenAI and most compatible servers
        return _describe(data["error"])
    if "detail" in data and "title" not in data:  # FastAPI / pydantic
        return _describe(data["detail"])
    if "title" in data or "validation" in data:  # RFC 7807 problem+json (Prism)
        parts = [str(data.get("title") or "")]
        problems = data.get("validation") or data.get("errors") or []
        messages = [p.get("message") for p in problems if isinstance(p, dict) and p.get("message")]
        if messages:
            parts.append("; ".join(dict.fromkeys(messages)))
        elif data.get("detail"):
            parts.append(str(data["detail"]))
        return _clip(": ".join(p for p in parts if p))
    if "message" in data:
        return _clip(str(data["message"]))
    return _clip(orjson.dumps(data).decode())


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg") or ""
        code = error.get("code") or error.get("type")
        text = str(message) if message else orjson.dumps(error).decode()
        return _clip(f"{text} ({code})" if code and str(code) not in text else text)
    if isinstance(error, list):  # FastAPI validation: [{"loc": [...], "msg": "..."}]
        items = []
        for item in error[:3]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                items.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
        return _clip("; ".join(items) or orjson.dumps(error).decode())
    return _clip(str(error))


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- result columns -------------------------------------------------------------------------

RAW_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("body", pa.string()), ("status", pa.int32()), ("error", pa.string()))


def _parsed_columns(endpoint: Endpoint) -> tuple[tuple[str, pa.DataType], ...]:
    text_column = ("content", pa.string()) if endpoint is Endpoint.CHAT else ("text", pa.string())
    chat_only = (("refusal", pa.string()), ("tool_calls", pa.string())) if endpoint is Endpoint.CHAT else ()
    return (text_column, *chat_only, ("finish_reason", pa.string()),
            ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()), ("total_tokens", pa.int64()),
            ("cached_tokens", pa.int64()), ("reasoning_tokens", pa.int64()),
            ("model", pa.string()), ("response_id", pa.string()),
            ("latency_ms", pa.float64()), ("attempts", pa.int32()))


def result_columns(endpoint: Endpoint, result_format: ResultFormat, *,
                   with_warning: bool = False) -> tuple[tuple[str, pa.DataType], ...]:
    """Names and Arrow types of the columns a run appends, in order."""
    columns = RAW_COLUMNS + ((("warning", pa.string()),) if with_warning else ())
    if result_format is ResultFormat.PARSED:
        columns += _parsed_columns(endpoint)
    return columns


def result_arrays(results: Sequence[RowResult], endpoint: Endpoint, result_format: ResultFormat, *,
                  with_warning: bool = False) -> list[pa.Array]:
    """The appended columns for a chunk of results, matching :func:`result_columns`."""
    columns = result_columns(endpoint, result_format, with_warning=with_warning)
    values: list[list[Any]] = [[r.body for r in results], [r.status for r in results],
                               [r.error for r in results]]
    if with_warning:
        values.append([r.warning for r in results])
    if result_format is ResultFormat.PARSED:
        rows = [_parsed_row(r, endpoint) for r in results]
        width = len(columns) - len(values)
        values.extend([list(col) for col in zip(*rows)] if rows else [[] for _ in range(width)])
    return [pa.array(v, type=t) for v, (_, t) in zip(values, columns)]


def _parsed_row(result: RowResult, endpoint: Endpoint) -> tuple[Any, ...]:
    data = result.data or {}
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    if endpoint is Endpoint.CHAT:
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        tool_calls = message.get("tool_calls")
        head: tuple[Any, ...] = (_text(message.get("content")), _text(message.get("refusal")),
                                 orjson.dumps(tool_calls).decode() if tool_calls else None)
    else:
        head = (_text(choice.get("text")),)
    return (*head, _text(choice.get("finish_reason")),
            _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")),
            _int(usage.get("total_tokens")),
            _int(prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None),
            _int(completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else None),
            _text(data.get("model")), _text(data.get("id")),
            result.latency_ms, result.attempts)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):  # content given as parts
        return "".join(p.get("text", "") for p in value if isinstance(p, dict)) or None
    return str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
