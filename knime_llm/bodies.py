"""Where request bodies come from: a template, a column of whole bodies, or simple settings.

Each of the three ways is compiled once against the table's column names into a
:class:`~knime_llm.templates.Template`, so an unknown column or a bad template is reported before
anything is sent, and building a row's body is the same cheap call whichever way was chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import ConfigError, RowError, TemplateError
from .settings import Endpoint
from .templates import Cell, Template, column_hint, compile_template, parse_template


@dataclass(frozen=True)
class SimpleBody:
    """The "simple" body mode: one prompt column plus a few common settings.

    Attributes:
        prompt_column: column holding the user message (chat) or the prompt (completion).
        model: model name sent with every request.
        system: optional system message (chat only).
        temperature, seed, stop: sent only when set.
        max_tokens: sent only when set, as ``max_completion_tokens`` (chat) or ``max_tokens``
            (completion, and chat servers that predate ``max_completion_tokens`` when
            ``legacy_max_tokens`` is set).
        response_format: ``"text"``, ``"json_object"``, or a JSON Schema object for structured
            outputs (chat only).
    """

    prompt_column: str
    model: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    legacy_max_tokens: bool = False
    seed: int | None = None
    stop: tuple[str, ...] = ()
    response_format: str | dict[str, Any] | None = None

    def tree(self, endpoint: Endpoint) -> dict[str, Any]:
        """The body as a template tree with a :class:`Cell` for the prompt."""
        if not self.model.strip():
            raise ConfigError("no model given; set the model name (e.g. gpt-4o-mini)")
        prompt = Cell(self.prompt_column, as_text=True, required=True)
        body: dict[str, Any] = {"model": self.model}
        if endpoint is Endpoint.CHAT:
            messages: list[dict[str, Any]] = []
            if self.system:
                messages.append({"role": "system", "content": self.system})
            messages.append({"role": "user", "content": prompt})
            body["messages"] = messages
        else:
            if self.system:
                raise ConfigError("a system message is for chat; the completion endpoint takes a prompt only")
            if self.response_format is not None:
                raise ConfigError("response format is for chat; the completion endpoint has none")
            body["prompt"] = prompt
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            chat_field = "max_tokens" if self.legacy_max_tokens else "max_completion_tokens"
            body[chat_field if endpoint is Endpoint.CHAT else "max_tokens"] = self.max_tokens
        if self.seed is not None:
            body["seed"] = self.seed
        if self.stop:
            body["stop"] = list(self.stop)
        if self.response_format is not None:
            body["response_format"] = _response_format(self.response_format)
        return body


def _response_format(value: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        # A bare JSON Schema: wrap it the way the API expects structured outputs.
        if value.get("type") in ("text", "json_object", "json_schema") and "schema" not in value:
            return value
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": value, "strict": True}}
    if value in ("text", "json_object"):
        return {"type": value}
    raise ConfigError(f"response format {value!r} is not one of 'text', 'json_object' or a JSON Schema")


def template_body(template: str | Any, columns: Sequence[str]) -> Template:
    """Bodies from a JSON template with ``{{column}}`` placeholders (see :mod:`knime_llm.templates`).

    Raises:
        TemplateError: the template is not a JSON object, or names a missing column.
    """
    tree = parse_template(template) if isinstance(template, str) else template
    if not isinstance(tree, dict):
        raise TemplateError("the body template must be a JSON object ({...}), the request body itself")
    return compile_template(tree, columns)


def column_body(column: str, columns: Sequence[str]) -> Template:
    """Bodies taken whole from one column (JSON text, or objects from Parquet/JSONL/KNIME JSON).

    Raises:
        ConfigError: the column does not exist.
    """
    if column not in columns:
        raise ConfigError(f"body column '{column}' is not in the table. {column_hint(column, columns)}")

    def render(cells: Sequence[Any]) -> Any:
        value = cells[0]
        if value is None:
            raise RowError(f"body column '{column}' is missing in this row")
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as err:
                raise RowError(f"body column '{column}' does not hold JSON in this row: {err}") from None
        if not isinstance(value, dict):
            raise RowError(f"body column '{column}' holds a JSON {type(value).__name__}, not an object, in this row")
        return value

    return Template((column,), render)


def simple_body(settings: SimpleBody, endpoint: Endpoint, columns: Sequence[str]) -> Template:
    """Bodies from a prompt column and common settings.

    Raises:
        ConfigError: no model, a prompt column that does not exist, or a setting the endpoint lacks.
    """
    if settings.prompt_column not in columns:
        raise ConfigError(f"prompt column '{settings.prompt_column}' is not in the table. "
                          f"{column_hint(settings.prompt_column, columns)}")
    return compile_template(settings.tree(endpoint), columns)
