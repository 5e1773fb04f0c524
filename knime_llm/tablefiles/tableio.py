"""What every reader and writer of table files is: :class:`InputTable` and :class:`OutputWriter`.

An input table knows its schema and its number of rows before the first batch, and
:meth:`InputTable.batches` reads the file again from the start, in batches of at most
``chunk_rows`` rows, so memory stays flat however long the file is; :func:`rechunk` cuts
batches of any size to that.

An output writer writes to a hidden temporary file next to the target, renamed into place by
:meth:`OutputWriter.close`, so the target never holds half a table. When the ``with`` block of a
writer ends with an exception, the rows written so far are kept as ``<name>.partial`` (the
target is left as it was), the exception gets a note saying so, and ``partial_path`` tells where.

The formats themselves are in :mod:`~knime_llm.tablefiles.csvread`, :mod:`~knime_llm.tablefiles.csvwrite`,
:mod:`~knime_llm.tablefiles.parquet` and :mod:`~knime_llm.tablefiles.jsonl`; :mod:`knime_llm.tablefiles`
chooses among them.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from ..errors import ConfigError

log = logging.getLogger(__name__)


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


def rechunk(
    batches: Iterable[pa.RecordBatch], chunk_rows: int, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Cut and join batches into ones of exactly ``chunk_rows`` rows (the last may be shorter).

    Args:
        batches: Batches with the column names and types of ``schema``.
        chunk_rows: Rows per batch.
        schema: The schema given to every batch (with its metadata).
    """
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            take = min(chunk_rows - count, batch.num_rows - offset)
            pending.append(batch.slice(offset, take))
            count += take
            offset += take
            if count == chunk_rows:
                yield _join(pending, schema)
                pending, count = [], 0
    if count:
        yield _join(pending, schema)


def _join(parts: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if len(parts) == 1:
        return pa.RecordBatch.from_arrays(parts[0].columns, schema=schema)
    table = pa.Table.from_batches(parts).combine_chunks()
    columns = [table.column(i).chunk(0) for i in range(table.num_columns)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


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

