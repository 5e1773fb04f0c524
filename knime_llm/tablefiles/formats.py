"""Reading and writing prompt tables as CSV, Parquet or JSON Lines files, chosen by extension.

:func:`open_input` gives an :class:`~knime_llm.tablefiles.tableio.InputTable` that streams the file in
batches of one schema, decided before the first batch; :func:`open_output` gives an
:class:`~knime_llm.tablefiles.tableio.OutputWriter` that replaces the target only once it is complete. No
cell is changed on the way: see :mod:`knime_llm.tablefiles.csvread` for when CSV text becomes a number and
:mod:`knime_llm.tablefiles.jsonl` for the types of JSON Lines columns.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from ..errors import ConfigError, DataError
from .csvread import CsvInput
from .csvwrite import CsvOutput
from .jsonl import JsonlInput, JsonlOutput
from .parquet import ParquetInput, ParquetOutput
from .tableio import InputTable, OutputWriter

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_KNOWN = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES + JSONL_SUFFIXES)


def open_input(
    path: str | os.PathLike[str], *, delimiter: str | None = None, chunk_rows: int = 10_000
) -> InputTable:
    """Open a prompt table, choosing the reader by the file's extension.

    ``.csv`` (and ``.tsv``/``.txt`` delimited text), ``.parquet``/``.pq`` and
    ``.jsonl``/``.ndjson`` are read; see the module docs of :mod:`knime_llm.tablefiles.csvread` for the
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
            return ParquetInput(file, chunk_rows)
        if suffix in JSONL_SUFFIXES:
            return JsonlInput(file, chunk_rows)
        return CsvInput(file, delimiter, chunk_rows)
    except OSError as exc:
        raise DataError(f"cannot read input file {file}: {exc.strerror or exc}; check it") from exc


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
        return CsvOutput(file, schema, "\t" if suffix == ".tsv" else ",")
    if suffix in PARQUET_SUFFIXES:
        return ParquetOutput(file, schema)
    if suffix in JSONL_SUFFIXES:
        return JsonlOutput(file, schema)
    raise ConfigError(
        f"output file {file} has the unknown extension {suffix or '(none)'!r}; "
        "use .csv, .tsv, .parquet, .pq, .jsonl or .ndjson"
    )
