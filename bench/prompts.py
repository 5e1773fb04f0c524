"""Prompt tables for the command line: one ``prompt`` column, row numbers in the text."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from latency import prompt


def write_prompts(path: Path, rows: int, chunk: int = 100_000) -> Path:
    """Write ``rows`` prompts (``latency.prompt(0..rows-1)``) as CSV or Parquet, by extension."""
    schema = pa.schema([pa.field("prompt", pa.string())])
    batches = (
        pa.record_batch(
            [pa.array([prompt(i) for i in range(start, min(start + chunk, rows))])], schema=schema
        )
        for start in range(0, rows, chunk)
    )
    if path.suffix == ".parquet":
        with pq.ParquetWriter(path, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    else:
        with pacsv.CSVWriter(path, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    return path
