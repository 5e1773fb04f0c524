"""Request-body templates: a JSON document whose strings may name table columns.

Written by hand because no templating library works on *parsed* JSON: Jinja, string.Template and
friends splice text, so a quote, newline or backslash in a cell can break the body or inject keys
into it. Here the template is parsed once, every placeholder is resolved to a column before any
request is sent, and each row's body is built as Python objects that are serialised afterwards.

Placeholder rules (the user-facing contract):

* A JSON string that is exactly ``"{{col}}"`` becomes the cell itself, with its type: a number,
  boolean, object or list cell stays one, a missing cell becomes ``null``, a text cell stays text
  even when it looks like JSON.
* ``"{{col:json}}"`` parses a text cell as JSON on purpose; a cell that is not JSON is a row error.
* ``{{col}}`` inside a longer string is replaced by the cell as text (numbers as written, booleans
  as ``true``/``false``, objects as compact JSON, a missing cell as nothing).
* Spaces inside the braces are ignored (``{{ col }}``); object keys are never substituted.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import RowError, TemplateError

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_JSON_SUFFIX = ":json"

Renderer = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class Cell:
    """A placeholder built in Python rather than parsed from text (used by the simple body mode).

    Attributes:
        column: the column whose cell is inserted.
        as_text: insert the cell as text (numbers formatted), not as a typed JSON value.
        required: a missing cell is a row error instead of ``null``/empty text.
    """

    column: str
    as_text: bool = False
    required: bool = False


@dataclass(frozen=True)
class Template:
    """A compiled template: the columns it reads and a function that builds one row's body."""

    columns: tuple[str, ...]
    _render: Renderer

    def render(self, cells: Sequence[Any]) -> Any:
        """Build one body from the row's cells, given in the order of :attr:`columns`.

        Raises:
            RowError: a ``:json`` cell is not JSON, or a required cell is missing.
        """
        return self._render(cells)


def parse_template(text: str) -> Any:
    """Parse template text as JSON, with an error that points at the line and column.

    Raises:
        TemplateError: the text is empty or not valid JSON.
    """
    if not text.strip():
        raise TemplateError("the body template is empty; give a JSON object such as "
                            '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "{{prompt}}"}]}')
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise TemplateError(
            f"the body template is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None


def compile_template(template: Any, columns: Sequence[str]) -> Template:
    """Compile a template (text, or an already parsed JSON value that may hold :class:`Cell`).

    Args:
        template: JSON text, or a parsed JSON value (dict/list/str/...) possibly holding ``Cell``s.
        columns: the names of the table's columns.

    Returns:
        A :class:`Template` whose ``columns`` lists each referenced column once, in first-use order.

    Raises:
        TemplateError: the text is not JSON, or a placeholder names a column the table lacks.
    """
    tree = parse_template(template) if isinstance(template, str) else template
    compiler = _Compiler(columns)
    render = compiler.compile(tree, "")
    return Template(tuple(compiler.used), render)


class _Compiler:
    """Turns a parsed template into nested closures, resolving each column to a cell position."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.available = list(columns)
        self.known = set(columns)
        self.used: dict[str, int] = {}

    def slot(self, name: str, where: str) -> int:
        if name not in self.known:
            raise TemplateError(_unknown_column_message(name, where, self.available))
        return self.used.setdefault(name, len(self.used))

    def compile(self, node: Any, path: str) -> Renderer:
        if isinstance(node, dict):
            return self._object(node, path)
        if isinstance(node, list):
            return self._array(node, path)
        if isinstance(node, str):
            return self._string(node, path)
        if isinstance(node, Cell):
            return self._cell(node, path)
        return _constant(node)

    def _object(self, node: Mapping[str, Any], path: str) -> Renderer:
        parts = [(key, self.compile(value, _child(path, key))) for key, value in node.items()]
        if all(_is_constant(render) for _, render in parts):
            return _constant(node)
        return lambda cells: {key: render(cells) for key, render in parts}

    def _array(self, node: list[Any], path: str) -> Renderer:
        items = [self.compile(value, f"{path}[{i}]") for i, value in enumerate(node)]
        if all(_is_constant(render) for render in items):
            return _constant(node)
        return lambda cells: [render(cells) for render in items]

    def _string(self, text: str, path: str) -> Renderer:
        matches = list(_PLACEHOLDER.finditer(text))
        if not matches:
            return _constant(text)
        where = path or "(body)"
        if len(matches) == 1 and matches[0].span() == (0, len(text)):
            name, parse_json = self._split(matches[0].group(1), where)
            slot = self.slot(name, where)
            if parse_json:
                return lambda cells: _parse_json_cell(cells[slot], name)
            return lambda cells: cells[slot]
        pieces: list[str | int] = []
        last = 0
        for match in matches:
            pieces.append(text[last:match.start()])
            name, parse_json = self._split(match.group(1), where)
            if parse_json:
                raise TemplateError(
                    f"placeholder {{{{{name}:json}}}} at {where} is inside a longer string; "
                    ":json only works when the placeholder is the whole string"
                )
            pieces.append(self.slot(name, where))
            last = match.end()
        pieces.append(text[last:])
        pieces = [p for p in pieces if p != ""]
        return lambda cells: "".join(p if isinstance(p, str) else as_text(cells[p]) for p in pieces)

    def _cell(self, cell: Cell, path: str) -> Renderer:
        slot = self.slot(cell.column, path or "(body)")
        name = cell.column
        convert = as_text if cell.as_text else _identity

        def render(cells: Sequence[Any]) -> Any:
            value = cells[slot]
            if value is None and cell.required:
                raise RowError(f"column '{name}' is missing in this row")
            return convert(value)

        return render

    def _split(self, inner: str, where: str) -> tuple[str, bool]:
        if not inner:
            raise TemplateError(f"empty placeholder {{{{}}}} at {where}; write {{{{column name}}}}")
        # A column literally named "x:json" wins over the :json suffix.
        if inner.endswith(_JSON_SUFFIX) and inner not in self.known:
            return inner[: -len(_JSON_SUFFIX)].strip(), True
        return inner, False


def _constant(value: Any) -> Renderer:
    def render(cells: Sequence[Any]) -> Any:
        return value

    render.constant = True  # type: ignore[attr-defined]
    return render


def _is_constant(render: Renderer) -> bool:
    return getattr(render, "constant", False)


def _identity(value: Any) -> Any:
    return value


def _child(path: str, key: str) -> str:
    return key if not path else f"{path}.{key}"


def as_text(value: Any) -> str:
    """A cell as it reads inside a longer string: JSON spelling for non-text, nothing for missing."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return orjson.dumps(value).decode()


def _parse_json_cell(value: Any, column: str) -> Any:
    if not isinstance(value, str):
        return value  # already a JSON value (number, object, list) or missing
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as err:
        raise RowError(f"column '{column}' is used as {{{{{column}:json}}}} but this cell is not JSON: "
                       f"{_short(str(err))}") from None


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def column_hint(name: str, available: Sequence[str]) -> str:
    """What to tell a user whose column name is not in the table: a close match and the columns."""
    close = difflib.get_close_matches(name, available, n=1)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    listed = ", ".join(f"'{c}'" for c in available[:20]) + (" …" if len(available) > 20 else "")
    return f"{hint}Columns: {listed or '(none)'}"


def _unknown_column_message(name: str, where: str, available: Sequence[str]) -> str:
    return f"placeholder {{{{{name}}}}} at {where} names no column of the table. {column_hint(name, available)}"
