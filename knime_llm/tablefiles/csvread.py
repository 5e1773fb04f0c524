"""CSV files as typed prompt tables, read so that no cell changes on the way through.

:class:`CsvInput` reads a file twice: once with every cell as text, so that :class:`TypeGuesser`
can decide each column's type from all of its cells (and the rows are counted), then in batches
with those types. A column becomes a number only when writing the number back reproduces every
cell's text exactly:

* integer (int64): every non-empty cell is ``str(int(s))``: no ``+5``, no ``007``, fits 64 bits;
* number (float64): every non-empty cell is ``repr(float(s))`` and finite: ``1.5`` but not
  ``1.50``, ``1e5``, ``5`` or ``nan``;
* boolean: every non-empty cell is exactly ``true`` or ``false``;
* text otherwise. Only an empty field is missing (``""`` is an empty text); ``NA``, ``NULL``,
  ``nan``, ``N/A`` are text.

:mod:`knime_llm.tablefiles.csvsniff` finds the delimiter and the header; :mod:`knime_llm.tablefiles.csvwrite` writes
cells back in the form they were read from.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import DataError
from .csvsniff import SINGLE_COLUMN_DELIMITER, detect_delimiter, read_header, read_sample
from .tableio import InputTable, rechunk

_INT_PATTERN = r"^(0|-?[1-9][0-9]*)$"
# Python's repr of a finite float: fixed notation with a fraction, or d[.ddd]e±XX.
_FLOAT_PATTERN = r"^-?((0|[1-9][0-9]*)\.[0-9]+|[1-9](\.[0-9]+)?e[-+][0-9]{2,3})$"
_BOOLS = pa.array(["true", "false"])
_BLOCK_BYTES = 1024 * 1024  # grows for rows longer than this (one long document per cell)
_MAX_BLOCK_BYTES = 1024 * 1024 * 1024


class CsvInput(InputTable):
    """A CSV file: one pass reading every cell as text to type the columns and count the rows,
    then a second pass reading with those types."""

    def __init__(self, path: Path, delimiter: str | None, chunk_rows: int) -> None:
        sample, complete = read_sample(path)
        if delimiter is None:
            delimiter = detect_delimiter(sample, complete)
            delimiter = delimiter or SINGLE_COLUMN_DELIMITER
        names = read_header(path, sample, delimiter)
        self._stream = CsvStream(path, delimiter, names)
        types, rows = self._stream.guess_types()
        schema = pa.schema([pa.field(name, types[name]) for name in names])
        super().__init__(path, schema, rows, chunk_rows)

    @property
    def delimiter(self) -> str:
        """The delimiter in use (given or detected)."""
        return self._stream.delimiter

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Read the file from the start, in batches of at most ``chunk_rows`` rows."""
        types = {field.name: field.type for field in self.schema}
        try:
            yield from rechunk(self._stream.read(types), self.chunk_rows, self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise self._stream.error(exc) from None


def find_bad_row(path: Path, delimiter: str, expected: int) -> tuple[int, int] | None:
    """Find the first record whose number of fields differs from the header's.

    Only called after pyarrow has reported such a row, which it does without a line number.

    Returns:
        (line number where the record starts, number of fields), or None if none is found.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # cells may be long documents
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
            reader = csv.reader(stream, delimiter=delimiter, strict=False)
            start = 1
            for record in reader:
                # Blank lines are skipped or missing cells, never wrong.
                if record and len(record) != expected:
                    return start, len(record)
                start = reader.line_num + 1
    finally:
        csv.field_size_limit(limit)
    return None


class CsvStream:
    """The settings for reading one CSV file with pyarrow, and its error messages."""

    def __init__(self, path: Path, delimiter: str, names: list[str]) -> None:
        self.path = path
        self.delimiter = delimiter
        self.names = names
        self.block_bytes = _BLOCK_BYTES

    def read(self, column_types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
        """Stream the file's rows as batches of the given column types (as they come)."""
        parse = pacsv.ParseOptions(
            delimiter=self.delimiter,
            newlines_in_values=True,
            # A blank line in a one-column file is a missing cell (that is how one is written);
            # in wider files it is a stray line and skipped.
            ignore_empty_lines=len(self.names) > 1,
        )
        convert = pacsv.ConvertOptions(
            column_types=column_types,
            null_values=[""],
            true_values=["true"],
            false_values=["false"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,  # `""` is an empty text, not a missing cell
        )
        with open(self.path, "rb") as stream:
            reader = pacsv.open_csv(
                stream, pacsv.ReadOptions(block_size=self.block_bytes), parse, convert
            )
            if reader.schema.names != self.names:
                raise DataError(
                    f"CSV file {self.path}: the header could not be read consistently; "
                    "check the quotes in the first line"
                )
            yield from reader

    def guess_types(self) -> tuple[dict[str, pa.DataType], int]:
        """Read every cell as text to decide the column types and count the rows.

        Raises:
            DataError: the file cannot be read as CSV.
        """
        as_text = {name: pa.string() for name in self.names}
        while True:
            guesser, rows = TypeGuesser(self.names), 0
            try:
                for batch in self.read(as_text):
                    guesser.update(batch)
                    rows += batch.num_rows
                return guesser.types(), rows
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc) or self.block_bytes >= _MAX_BLOCK_BYTES:
                    raise self.error(exc) from None
                self.block_bytes *= 4  # a row longer than a block: read again, larger blocks

    def error(self, exc: Exception) -> DataError:
        """Turn a pyarrow error into a one-line :class:`DataError` saying how to fix the file."""
        text = str(exc)
        if "UTF8" in text or "UTF-8" in text:
            return DataError(
                f"CSV file {self.path} is not UTF-8 text; save it as UTF-8 "
                "(in Excel: 'CSV UTF-8') or convert it"
            )
        if "Expected" in text and "columns" in text:
            found = find_bad_row(self.path, self.delimiter, len(self.names))
            if found is not None:
                return DataError(
                    f"CSV file {self.path}, line {found[0]}: the row has {found[1]} fields but "
                    f"the header has {len(self.names)}; quote fields that contain the "
                    f"delimiter {self.delimiter!r} or fix the row"
                )
        if "straddl" in text:
            return DataError(f"CSV file {self.path} has a row larger than 1 GB; split it")
        return DataError(f"cannot read CSV file {self.path}: {text.splitlines()[0]}")


class TypeGuesser:
    """Decides the type of each column from all of its cells, fed in batches of strings."""

    def __init__(self, names: Sequence[str]) -> None:
        self._names = list(names)
        # Per column, the types still possible; a column with no value at all ends up as text.
        self._possible = [{"integer", "number", "boolean"} for _ in self._names]
        self._has_value = [False] * len(self._names)

    def update(self, batch: pa.RecordBatch) -> None:
        """Rule out the types that some cell of this batch cannot have.

        Args:
            batch: Cells read as strings (missing cells as nulls), columns in header order.
        """
        for i, possible in enumerate(self._possible):
            if not possible:
                continue
            cells = batch.column(i).drop_null()
            if len(cells) == 0:
                continue
            self._has_value[i] = True
            if "integer" in possible and not _all_integers(cells):
                possible.discard("integer")
            if "number" in possible and not _all_floats(cells):
                possible.discard("number")
            if "boolean" in possible and not pc.all(pc.is_in(cells, value_set=_BOOLS)).as_py():
                possible.discard("boolean")

    def types(self) -> dict[str, pa.DataType]:
        """The decided Arrow type of each column, by name."""
        result = {}
        for name, possible, has_value in zip(self._names, self._possible, self._has_value):
            kind = next(iter(possible)) if has_value and len(possible) == 1 else "string"
            result[name] = {
                "integer": pa.int64(),
                "number": pa.float64(),
                "boolean": pa.bool_(),
                "string": pa.string(),
            }[kind]
        return result


def _all_integers(cells: pa.Array) -> bool:
    if not pc.all(pc.match_substring_regex(cells, _INT_PATTERN)).as_py():
        return False
    try:
        pc.cast(cells, pa.int64())  # fails when a value does not fit 64 bits
    except (pa.ArrowInvalid, OverflowError):
        return False
    return True


def _all_floats(cells: pa.Array) -> bool:
    # The pattern rules out most text cheaply; the exact test (repr round trip) runs in Python
    # on the distinct values only.
    if not pc.all(pc.match_substring_regex(cells, _FLOAT_PATTERN)).as_py():
        return False
    return all(repr(float(s)) == s for s in pc.unique(cells).to_pylist())
