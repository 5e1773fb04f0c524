"""How CSV text maps to typed cells and back, so that no cell changes on the way through.

Reading: :func:`detect_delimiter` picks the delimiter from the start of the file, and
:class:`TypeGuesser` decides each column's type from all of its cells. A column becomes a number
only when writing the number back reproduces every cell's text exactly:

* integer (int64): every non-empty cell is ``str(int(s))``: no ``+5``, no ``007``, fits 64 bits;
* number (float64): every non-empty cell is ``repr(float(s))`` and finite: ``1.5`` but not
  ``1.50``, ``1e5``, ``5`` or ``nan``;
* boolean: every non-empty cell is exactly ``true`` or ``false``;
* text otherwise. Only an empty field is missing (``""`` is an empty text); ``NA``, ``NULL``,
  ``nan``, ``N/A`` are text.

Writing: :func:`render_rows` turns a batch into CSV rows in that same form (floats in Python's
shortest round-trip form, which pyarrow's CSV writer does not use: it writes ``5.0`` as ``5``),
quoting only the text that needs it, so a file read and written back is the same file.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.types as pat

from .errors import DataError
from .tables import column_values, dumps_json

#: Delimiters tried by :func:`detect_delimiter`, in order of preference on a tie.
CANDIDATES = (",", ";", "\t", "|")
#: Delimiter used for files whose header has no candidate: such a file has one column, and this
#: character (ASCII unit separator) does not occur in real text, so commas in cells stay text.
SINGLE_COLUMN_DELIMITER = "\x1f"

_QUOTED = re.compile(r'"[^"]*"')
_INT_PATTERN = r"^(0|-?[1-9][0-9]*)$"
# Python's repr of a finite float: fixed notation with a fraction, or d[.ddd]e±XX.
_FLOAT_PATTERN = r"^-?((0|[1-9][0-9]*)\.[0-9]+|[1-9](\.[0-9]+)?e[-+][0-9]{2,3})$"
_BOOLS = pa.array(["true", "false"])
_MAX_LINES = 1000
_BOM = b"\xef\xbb\xbf"
_SAMPLE_BYTES = 64 * 1024
_MAX_HEADER_BYTES = 16 * 1024 * 1024
_BLOCK_BYTES = 1024 * 1024  # grows for rows longer than this (one long document per cell)
_MAX_BLOCK_BYTES = 1024 * 1024 * 1024


def read_sample(path: Path) -> tuple[str, bool]:
    """Read the start of a CSV file as text: at least 64 KB, and at least the whole header.

    Returns:
        The text without byte-order mark, and whether it is the whole file.

    Raises:
        DataError: the file is empty or does not start as UTF-8 text.
    """
    with open(path, "rb") as stream:
        raw = stream.read(_SAMPLE_BYTES)
        while True:
            more = stream.read(_SAMPLE_BYTES)
            complete = not more
            raw += more
            if complete or len(raw) >= _MAX_HEADER_BYTES or header_complete(_decode(raw)):
                break
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Only a character cut off at the end of the sample is expected here.
        if complete or exc.start < len(raw) - 3:
            line = raw[: exc.start].count(b"\n") + 1
            raise DataError(
                f"CSV file {path} is not UTF-8 text (line {line}); save it as UTF-8 "
                "(in Excel: 'CSV UTF-8') or convert it"
            ) from None
        text = raw[: exc.start].decode("utf-8")
    if not text:
        raise DataError(f"CSV file {path} is empty; it needs a header row with the column names")
    return text, complete


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def read_header(path: Path, sample: str, delimiter: str) -> list[str]:
    """The column names from the first record of the sample.

    Raises:
        DataError: a name is empty or occurs twice.
    """
    try:
        names = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=False))
    except csv.Error as exc:  # a name longer than 128 KB: surely not a header
        raise DataError(f"CSV file {path}: the header row cannot be read ({exc})") from None
    if not names:
        raise DataError(f"CSV file {path} starts with a blank line; put the header row first")
    empty = [str(i + 1) for i, name in enumerate(names) if name == ""]
    if empty:
        raise DataError(
            f"CSV file {path}: column {', '.join(empty)} of the header row has no name; "
            "give every column a name in the first line"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise DataError(
            f"CSV file {path}: the header row has the column name(s) {twice} more than once; "
            "give every column a distinct name"
        )
    return names


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


def detect_delimiter(sample: str, complete: bool) -> str | None:
    """Pick the delimiter from the start of a CSV file.

    Quoted text is removed first, so delimiters inside quotes do not count. Among the candidates
    that occur in the header, the one that splits most of the following lines into as many fields
    as the header wins; ties go to the earlier candidate in :data:`CANDIDATES`.

    Args:
        sample: The start of the file as text, without a byte-order mark.
        complete: True when ``sample`` is the whole file, so its last line is not cut off.

    Returns:
        The delimiter, or None when the header has none of the candidates (one column).
    """
    lines = _unquoted_lines(sample, complete)
    if not lines:
        return None
    header, rest = lines[0], [line for line in lines[1:_MAX_LINES] if line.strip()]
    best: tuple[float, int] | None = None
    chosen = None
    for rank, candidate in enumerate(CANDIDATES):
        expected = header.count(candidate)
        if expected == 0:
            continue
        if rest:
            score = sum(line.count(candidate) == expected for line in rest) / len(rest)
        else:
            score = float(expected)
        key = (score, -rank)
        if best is None or key > best:
            best, chosen = key, candidate
    return chosen


def header_complete(sample: str) -> bool:
    """Tell whether the sample holds the whole header record (a line end outside quotes)."""
    return len(_unquoted_lines(sample, complete=False)) > 0


def _unquoted_lines(sample: str, complete: bool) -> list[str]:
    """Lines of the sample with quoted text removed; the cut-off last line is left out."""
    text = _QUOTED.sub("", sample)
    open_quote = text.find('"')
    if open_quote >= 0:
        # An unmatched quote opens a field that runs past the sample: nothing after it is known.
        text, complete = text[:open_quote], False
    lines = text.replace("\r", "").split("\n")
    if not complete or lines[-1] == "":
        lines.pop()
    return lines


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
