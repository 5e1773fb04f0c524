"""Parquet files as prompt tables: read row group by row group, written in large row groups.

The schema is kept as it is both ways, field metadata included, so JSON-kind columns (see
:mod:`knime_llm.tables`) stay marked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError
from .tableio import InputTable, OutputWriter

# Parquet row groups: big enough for readers to scan well, small enough that the rows waiting for
# the next group stay a few MB (a 64k-row buffer of answers was the largest part of a run's memory).
_GROUP_ROWS, _GROUP_BYTES = 16 * 1024, 16 * 1024 * 1024


class ParquetInput(InputTable):
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


class ParquetOutput(OutputWriter):
    """A Parquet file written with the schema as given (JSON-kind metadata kept)."""

    # Small batches are gathered into row groups of up to 16k rows or 16 MB: many tiny row groups
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

