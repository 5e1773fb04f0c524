"""Prompt tables written as CSV in the form :mod:`knime_llm.tablefiles.csvread` reads back unchanged.

:func:`render_rows` writes integers as integers, booleans as ``true``/``false`` and floats in
Python's shortest round-trip form (which pyarrow's CSV writer does not use: it writes ``5.0`` as
``5``), and quotes only the text that needs it, so a file read and written back is the same file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from ..jsonvalues import dumps_json
from ..tables import column_values
from .csvsniff import CANDIDATES, SINGLE_COLUMN_DELIMITER
from .tableio import OutputWriter


class CsvOutput(OutputWriter):
    """A CSV file, UTF-8 without byte-order mark: the header, then :func:`render_rows`."""

    def __init__(self, path: Path, schema: pa.Schema, delimiter: str) -> None:
        self._delimiter = delimiter
        super().__init__(path, schema)

    def _start(self) -> None:
        header = render_header(self.schema.names, self._delimiter)
        self._file.write((header + "\n").encode())

    def _write(self, batch: pa.RecordBatch) -> None:
        self._file.write(render_rows(batch, self._delimiter))


def quote_text(cells: pa.Array, delimiter: str) -> pa.Array:
    """Quote the text cells that need it: those holding a quote, a line end or any delimiter,
    and empty ones (so that an empty text stays distinct from a missing cell, written as nothing).

    Text with any candidate delimiter is quoted, not just with the one in use, so that reading the
    file back detects the same delimiter (a one-column header ``a;b`` would otherwise look like
    two columns).
    """
    cells = cells.cast(pa.string()) if not pat.is_string(cells.type) else cells
    # RE2 hex escapes keep any delimiter literal inside the character class.
    special = {delimiter, '"', "\n", "\r", SINGLE_COLUMN_DELIMITER, *CANDIDATES}
    pattern = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(special)) + "]"
    # Leading or trailing spaces are quoted too: some programs trim unquoted fields.
    needs = pc.or_(
        pc.or_(pc.match_substring_regex(cells, pattern), pc.equal(pc.utf8_length(cells), 0)),
        pc.match_substring_regex(cells, r"^\s|\s$"),
    )
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(cells, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, cells)


def render_rows(batch: pa.RecordBatch, delimiter: str = ",") -> bytes | memoryview:
    """Render a batch as CSV rows, UTF-8, each ending in ``\\n``; missing cells as empty fields.

    Text and JSON-kind columns are written as their text, integers as integers, booleans as
    ``true``/``false``, floats in Python's shortest round-trip form, decimals exactly, structs and
    lists as compact JSON text, temporal values as ISO-8601 text.
    """
    if batch.num_rows == 0:
        return b""
    if batch.num_columns == 0:
        return b"\n" * batch.num_rows
    rendered = [
        _render_column(batch.column(i), batch.schema.field(i), delimiter)
        for i in range(batch.num_columns)
    ]
    lines = pc.binary_join_element_wise(
        *rendered, delimiter, null_handling="replace", null_replacement=""
    )
    lines = pc.binary_join_element_wise(lines, "", "\n")  # line + "\n" + ""
    # The rows lie back to back in the array's data buffer: write it as it is, with no copy into
    # Python strings.
    _, offsets, data = lines.buffers()
    width = np.int64 if pat.is_large_string(lines.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[[lines.offset, lines.offset + len(lines)]]
    return memoryview(data)[int(bounds[0]) : int(bounds[1])]


def render_header(names: Sequence[str], delimiter: str = ",") -> str:
    """Render the header line (without line end)."""
    cells = quote_text(pa.array(list(names), pa.string()), delimiter)
    return delimiter.join(cells.to_pylist())


def _render_column(column: pa.Array, field: pa.Field, delimiter: str) -> pa.Array:
    t = field.type
    if pat.is_dictionary(t):
        return _render_column(
            column.dictionary_decode(), pa.field(field.name, t.value_type), delimiter
        )
    if pat.is_string(t) or pat.is_large_string(t):
        return quote_text(column, delimiter)
    if pat.is_integer(t) or pat.is_boolean(t) or pat.is_decimal(t):
        return pc.cast(column, pa.string())  # exact; booleans become true/false
    if pat.is_null(t):
        return pa.nulls(len(column), pa.string())
    if pat.is_floating(t):
        return _render_floats(column)
    values = column_values(pa.RecordBatch.from_arrays([column], [field.name]), field.name)
    texts = [v if v is None or isinstance(v, str) else dumps_json(v) for v in values]
    return quote_text(pa.array(texts, pa.string()), delimiter)


def _render_floats(column: pa.Array) -> pa.Array:
    # float64 values through Python floats: repr is the shortest text that reads back the same.
    # float32 values print in their own shortest form (numpy's str), so 0.1f stays "0.1".
    array = column.to_numpy(zero_copy_only=False)
    if array.dtype == np.float64:
        texts = [repr(v) for v in array.tolist()]
    else:
        texts = [str(v) for v in array]
    return pa.array(texts, pa.string(), mask=column.is_null().to_numpy(zero_copy_only=False))
