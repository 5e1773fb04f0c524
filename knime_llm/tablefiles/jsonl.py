"""JSON Lines files as prompt tables: one JSON object per line, one column per key.

Reading takes two passes: the first decides the column types over every row
(:class:`JsonColumnTypes`) and counts the rows, the second reads the batches. Values that no
plain column type holds unchanged go to JSON-kind columns (see :mod:`knime_llm.tables`), and are
written back as the JSON values they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ..errors import DataError
from ..jsonvalues import dumps_json, loads_json
from ..tables import column_values, is_json_field, json_field
from .tableio import InputTable, OutputWriter

_BOM = b"\xef\xbb\xbf"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EXACT_AS_DOUBLE = 2**53
_KIND_NAMES = {str: "str", bool: "bool", int: "int", float: "float"}


class JsonColumnTypes:
    """Decides the column types of a stream of JSON objects (JSON Lines rows) over all of them.

    Column order is the order of first appearance. All text makes a string column, all integers
    int64, integers and floats float64 (only when every integer is exact as a double), all
    booleans boolean, no value at all (only nulls) text; any other mix, objects, lists or integers
    beyond 64 bits make a JSON-kind column, so that no value changes.
    """

    def __init__(self) -> None:
        self._seen: dict[str, set[Any]] = {}

    def add(self, obj: dict[str, Any]) -> None:
        """Take note of the types of one object's values."""
        # Runs once per row: Python types as kinds keep it to a set insertion per value.
        seen = self._seen
        for key, value in obj.items():
            kinds = seen.get(key)
            if kinds is None:
                kinds = seen[key] = set()
            kind: Any = type(value)
            if kind is int and not -_EXACT_AS_DOUBLE <= value <= _EXACT_AS_DOUBLE:
                kind = "bigint" if _INT64_MIN <= value <= _INT64_MAX else "json"
            kinds.add(kind)

    def fields(self) -> list[pa.Field]:
        """One field per key seen, in order of first appearance."""
        return [self._field(name, kinds) for name, kinds in self._seen.items()]

    @staticmethod
    def _field(name: str, seen: set[Any]) -> pa.Field:
        kinds = {
            kind if isinstance(kind, str) else _KIND_NAMES.get(kind, "json")
            for kind in seen
            if kind is not type(None)
        }
        if not kinds or kinds == {"str"}:
            return pa.field(name, pa.string())
        if kinds == {"bool"}:
            return pa.field(name, pa.bool_())
        if kinds <= {"int", "bigint"}:
            return pa.field(name, pa.int64())
        if kinds <= {"int", "float"}:
            return pa.field(name, pa.float64())
        return json_field(name)


class JsonlInput(InputTable):
    """A JSON Lines file: one pass typing the columns over the whole file (see
    :class:`JsonColumnTypes`), then the batches. Absent keys are missing cells.
    """

    def __init__(self, path: Path, chunk_rows: int) -> None:
        columns = JsonColumnTypes()
        rows = 0
        for obj in self._objects(path):
            rows += 1
            columns.add(obj)
        fields = columns.fields()
        if rows and not fields:
            raise DataError(f"JSON Lines file {path} has rows but no keys; give each row a key")
        super().__init__(path, pa.schema(fields), rows, chunk_rows)

    @staticmethod
    def _objects(path: Path) -> Iterator[dict[str, Any]]:
        with open(path, "rb") as stream:
            for number, line in enumerate(stream, start=1):
                if number == 1 and line.startswith(_BOM):
                    line = line[len(_BOM) :]
                if not line.strip():
                    continue
                try:
                    obj = loads_json(line)
                except ValueError as exc:
                    raise DataError(
                        f"JSON Lines file {path}, line {number}: not valid JSON ({exc}); "
                        "each line must hold one JSON object"
                    ) from None
                if not isinstance(obj, dict):
                    raise DataError(
                        f"JSON Lines file {path}, line {number}: holds a JSON "
                        f"{type(obj).__name__.replace('dict', 'object')}, not an object; each "
                        'line must hold one JSON object such as {"prompt": "..."}'
                    )
                yield obj

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Read the file from the start, in batches of at most ``chunk_rows`` rows."""
        rows: list[dict[str, Any]] = []
        for obj in self._objects(self.path):
            rows.append(obj)
            if len(rows) == self.chunk_rows:
                yield self._batch(rows)
                rows = []
        if rows:
            yield self._batch(rows)

    def _batch(self, rows: list[dict[str, Any]]) -> pa.RecordBatch:
        arrays = []
        for field in self.schema:
            values = [row.get(field.name) for row in rows]
            if is_json_field(field):
                values = [None if v is None else dumps_json(v) for v in values]
            try:
                arrays.append(pa.array(values, field.type))
            except (pa.ArrowException, OverflowError) as exc:
                raise DataError(
                    f"JSON Lines file {self.path} changed while it was read (column "
                    f"{field.name!r}: {exc}); read it again"
                ) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class JsonlOutput(OutputWriter):
    """A JSON Lines file, one object per row with JSON-kind cells as the JSON values they hold."""

    def _write(self, batch: pa.RecordBatch) -> None:
        names = batch.schema.names
        columns = [column_values(batch, name) for name in names]
        self._file.write(b"".join(_json_line(dict(zip(names, row))) for row in zip(*columns)))


def _json_line(obj: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # an integer beyond 64 bits
        return (dumps_json(obj) + "\n").encode()
