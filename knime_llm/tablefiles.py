"""Reading and writing prompt tables as CSV, Parquet or JSON Lines files, in batches.

Inputs are streamed: :func:`open_input` decides the schema and counts the rows first (for CSV
and JSON Lines by one pass over the file), then :meth:`InputTable.batches` reads the file again
in batches of at most ``chunk_rows`` rows, so memory stays flat however long the file is. No cell
is changed on the way: see :mod:`knime_llm.csvtypes` for when CSV text becomes a number.

Outputs are written to a hidden temporary file next to the target and renamed into place by
:meth:`OutputWriter.close`, so the target never holds half a table. When the ``with`` block of a
writer ends with an exception, the rows written so far are kept as ``<name>.partial`` (the
target is left as it was), the exception gets a note saying so, and ``partial_path`` tells where.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from . import csvtypes
from .errors import ConfigError, DataError
from .tables import (
    JsonColumnTypes,
    column_values,
    dumps_json,
    is_json_field,
    loads_json,
    rechunk,
)

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_KNOWN = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES + JSONL_SUFFIXES)
_BOM = b"\xef\xbb\xbf"
_GROUP_ROWS, _GROUP_BYTES = 64 * 1024, 64 * 1024 * 1024  # Parquet row groups


class InputTable:
    """An input file read as record batches sharing one schema, decided before the first batch.

    Attributes:
        path: The file.
        schema: The schema every batch has.
        num_rows: Number of data rows in the file.
        chunk_rows: Largest number of rows per batch.
    """

    def __init__(self, path: Path, schema: pa.Schema, num_rows: int, chunk_rows: int) -> None:
        self.path = path
        self.schema = schema
        self.num_rows = num_rows
        self.chunk_rows = chunk_rows

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Read the file from the start, in batches of at most ``chunk_rows`` rows.

        Raises:
            DataError: the file cannot be read (or changed since it was opened).
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release the file; further reading is not possible."""

    def __enter__(self) -> InputTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_input(
    path: str | os.PathLike[str], *, delimiter: str | None = None, chunk_rows: int = 10_000
) -> InputTable:
    """Open a prompt table, choosing the reader by the file's extension.

    ``.csv`` (and ``.tsv``/``.txt`` delimited text), ``.parquet``/``.pq`` and
    ``.jsonl``/``.ndjson`` are read; see the module docs of :mod:`knime_llm.csvtypes` for the
    CSV typing rules.

    Args:
        path: The file.
        delimiter: CSV field delimiter; None detects one of ``,`` ``;`` tab ``|``. Ignored for
            the other formats.
        chunk_rows: Largest number of rows per batch.

    Returns:
        The opened table; use it as a context manager.

    Raises:
        DataError: the file is missing, has an unknown extension, or cannot be read.
        ConfigError: ``delimiter`` or ``chunk_rows`` is invalid.
    """
    file = Path(path)
    if chunk_rows < 1:
        raise ConfigError(f"chunk rows must be 1 or more, not {chunk_rows}")
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise ConfigError(
            f"delimiter {delimiter!r} is not a single character other than a quote or line end; "
            "give one character such as ',' ';' or a tab"
        )
    suffix = file.suffix.lower()
    if suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES + JSONL_SUFFIXES:
        raise DataError(
            f"input file {file} has the unknown extension {suffix or '(none)'!r}; "
            f"rename it or save it as one of {_KNOWN}"
        )
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "does not exist"
        raise DataError(f"input file {file} {what}; check the path")
    try:
        if suffix in PARQUET_SUFFIXES:
            return _ParquetInput(file, chunk_rows)
        if suffix in JSONL_SUFFIXES:
            return _JsonlInput(file, chunk_rows)
        return _CsvInput(file, delimiter, chunk_rows)
    except OSError as exc:
        raise DataError(f"cannot read input file {file}: {exc.strerror or exc}; check it") from exc


class _CsvInput(InputTable):
    """A CSV file: one pass reading every cell as text to type the columns and count the rows,
    then a second pass reading with those types."""

    def __init__(self, path: Path, delimiter: str | None, chunk_rows: int) -> None:
        sample, complete = csvtypes.read_sample(path)
        if delimiter is None:
            delimiter = csvtypes.detect_delimiter(sample, complete)
            delimiter = delimiter or csvtypes.SINGLE_COLUMN_DELIMITER
        names = csvtypes.read_header(path, sample, delimiter)
        self._stream = csvtypes.CsvStream(path, delimiter, names)
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


class _ParquetInput(InputTable):
    """A Parquet file, read row group by row group; schema and row count from its metadata."""

    def __init__(self, path: Path, chunk_rows: int) -> None:
        try:
            self._file = pq.ParquetFile(path)
            schema, rows = self._file.schema_arrow, self._file.metadata.num_rows
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(
                f"input file {path} is not a readable Parquet file ({exc}); "
                "check that it was written completely"
            ) from None
        super().__init__(path, schema, rows, chunk_rows)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Read the file from the start, in batches of at most ``chunk_rows`` rows."""
        try:
            for batch in self._file.iter_batches(batch_size=self.chunk_rows):
                yield pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"cannot read Parquet file {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class _JsonlInput(InputTable):
    """A JSON Lines file: one pass typing the columns over the whole file (see
    :class:`~knime_llm.tables.JsonColumnTypes`), then the batches. Absent keys are missing cells.
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


class OutputWriter:
    """Writes record batches to a file atomically: a temporary file renamed into place on close.

    Attributes:
        path: The target file.
        schema: The schema every written batch must have (names and types).
        rows_written: Rows written so far.
        partial_path: Where the rows written so far were kept after an abort, else None.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        names = schema.names
        clashes = sorted({name for name in names if names.count(name) > 1})
        if clashes:
            raise ValueError(f"output column names occur more than once: {clashes}")
        if path.is_dir():
            raise ConfigError(f"output file {path} is a directory; give a file name")
        if not path.parent.is_dir():
            raise ConfigError(f"the folder of output file {path} does not exist; create it first")
        self.path = path
        self.schema = schema
        self.rows_written = 0
        self.partial_path: Path | None = None
        # Hidden, unique name in the same folder, so the final rename cannot cross file systems;
        # created with the usual permissions (unlike mkstemp's 0600).
        self._temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise ConfigError(f"cannot write output file {path}: {exc.strerror}") from None
        self._file = os.fdopen(fd, "wb")
        self._closed = False
        try:
            self._start()
        except BaseException:
            self._file.close()
            self._temp.unlink(missing_ok=True)
            raise

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append the rows of a batch or table.

        Raises:
            ValueError: its column names or types differ from the schema, or the writer is closed.
        """
        if self._closed:
            raise ValueError(f"output file {self.path} is already closed")
        if batch.schema.names != self.schema.names or batch.schema.types != self.schema.types:
            raise ValueError(
                f"batch columns {batch.schema} do not match the output schema {self.schema}"
            )
        parts = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
        for part in parts:
            self._write(pa.RecordBatch.from_arrays(part.columns, schema=self.schema))
            self.rows_written += part.num_rows

    def close(self) -> None:
        """Finish the file and rename it to the target name; does nothing when already closed."""
        if self._closed:
            return
        try:
            self._finish()
            self._file.close()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        os.replace(self._temp, self.path)

    def abort(self) -> Path | None:
        """Stop writing and keep what was written as ``<name>.partial`` (nothing if no rows).

        The target file is left untouched.

        Returns:
            The partial file, or None when no rows had been written.
        """
        if self._closed:
            return self.partial_path
        self._closed = True
        try:
            self._finish()  # a Parquet file needs its footer to be readable at all
        except Exception:  # keeping the rows matters more than a tidy footer
            log.debug("could not finish partial output %s", self.path, exc_info=True)
        finally:
            self._file.close()
        if self.rows_written == 0:
            self._temp.unlink(missing_ok=True)
            return None
        self.partial_path = self.path.with_name(self.path.name + ".partial")
        os.replace(self._temp, self.partial_path)
        return self.partial_path

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        partial = self.abort()
        if partial is not None:
            note = f"the {self.rows_written} rows written so far are in {partial}"
            log.warning("output %s not completed; %s", self.path, note)
            if hasattr(exc, "add_note"):
                exc.add_note(note)

    def _start(self) -> None:
        """Write what comes before the rows."""

    def _write(self, batch: pa.RecordBatch) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Write what comes after the rows."""


def open_output(path: str | os.PathLike[str], schema: pa.Schema) -> OutputWriter:
    """Open an output file for writing, choosing the format by its extension.

    ``.csv`` (``,``-delimited) and ``.tsv`` (tab), UTF-8 without byte-order mark;
    ``.parquet``/``.pq`` with the schema as given (JSON-kind metadata kept); ``.jsonl``/
    ``.ndjson``, one object per row with JSON-kind cells as JSON values.

    Args:
        path: The target file; replaced when the writer is closed.
        schema: Columns of the output.

    Returns:
        The writer; use it as a context manager.

    Raises:
        ConfigError: unknown extension, or the file cannot be created.
        ValueError: the schema has duplicate column names.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _CsvOutput(file, schema, "\t" if suffix == ".tsv" else ",")
    if suffix in PARQUET_SUFFIXES:
        return _ParquetOutput(file, schema)
    if suffix in JSONL_SUFFIXES:
        return _JsonlOutput(file, schema)
    raise ConfigError(
        f"output file {file} has the unknown extension {suffix or '(none)'!r}; "
        "use .csv, .tsv, .parquet, .pq, .jsonl or .ndjson"
    )


class _CsvOutput(OutputWriter):
    def __init__(self, path: Path, schema: pa.Schema, delimiter: str) -> None:
        self._delimiter = delimiter
        super().__init__(path, schema)

    def _start(self) -> None:
        header = csvtypes.render_header(self.schema.names, self._delimiter)
        self._file.write((header + "\n").encode())

    def _write(self, batch: pa.RecordBatch) -> None:
        self._file.write(csvtypes.render_rows(batch, self._delimiter))


class _ParquetOutput(OutputWriter):
    # Small batches are gathered into row groups of up to 64k rows or 64 MB: many tiny row groups
    # make a file large and slow to read.
    def _start(self) -> None:
        self._writer = pq.ParquetWriter(self._file, self.schema)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = self._pending_bytes = 0

    def _write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        if self._pending_rows >= _GROUP_ROWS or self._pending_bytes >= _GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            table = pa.Table.from_batches(self._pending, schema=self.schema)
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
            self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def _finish(self) -> None:
        try:
            self._flush()
        finally:
            self._writer.close()


class _JsonlOutput(OutputWriter):
    def _write(self, batch: pa.RecordBatch) -> None:
        names = batch.schema.names
        columns = [column_values(batch, name) for name in names]
        self._file.write(b"".join(_json_line(dict(zip(names, row))) for row in zip(*columns)))


def _json_line(obj: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # an integer beyond 64 bits
        return (dumps_json(obj) + "\n").encode()
