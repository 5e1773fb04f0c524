"""Parquet files: schema and row count as stored, batches, row groups, partial files."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from knime_llm.errors import DataError
from knime_llm.tablefiles import open_input, open_output
from knime_llm.tables import column_values, is_json_field, json_field
from tests.tablefile_helpers import write_file


def test_parquet_schema_rows_and_batches_as_stored(tmp_path: Path) -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.int64()),
            json_field("payload"),
            pa.field("meta", pa.struct([("a", pa.string()), ("b", pa.int64())])),
            pa.field("at", pa.timestamp("us", tz="UTC")),
        ]
    )
    table = pa.table(
        {
            "id": list(range(25)),
            "payload": ['{"k":[1,2]}'] * 25,
            "meta": [{"a": "x", "b": None}] * 25,
            "at": [datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)] * 25,
        },
        schema=schema,
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=10)
    with open_input(path, chunk_rows=4) as source:
        assert source.num_rows == 25
        assert source.schema.equals(schema)
        assert is_json_field(source.schema.field("payload"))
        batches = list(source.batches())
    assert all(b.num_rows <= 4 for b in batches) and sum(b.num_rows for b in batches) == 25
    batch = batches[0]
    assert column_values(batch, "payload")[0] == {"k": [1, 2]}
    assert column_values(batch, "meta")[0] == {"a": "x"}
    assert column_values(batch, "at")[0] == "2024-01-02T00:00:00+00:00"


def test_damaged_parquet_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a readable Parquet file"):
        open_input(write_file(tmp_path, "t.pq", b"PAR1 this is not parquet"))


def test_parquet_output_keeps_the_schema_with_json_marks(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.int64()), json_field("j")])
    path = tmp_path / "o.parquet"
    with open_output(path, schema) as writer:
        for start in range(0, 100, 10):
            writer.write(
                pa.record_batch(
                    [pa.array(range(start, start + 10)), pa.array(["[1]"] * 10)], schema=schema
                )
            )
    stored = pq.ParquetFile(path)
    assert stored.schema_arrow.equals(schema, check_metadata=True)
    assert stored.metadata.num_rows == 100
    assert stored.metadata.num_row_groups == 1  # small batches are gathered into row groups


def test_partial_parquet_file_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    schema = pa.schema([("a", pa.int64())])
    with pytest.raises(KeyboardInterrupt):
        with open_output(path, schema) as writer:
            writer.write(pa.record_batch([pa.array([1, 2, 3])], schema=schema))
            raise KeyboardInterrupt
    assert pq.read_table(tmp_path / "o.parquet.partial").column("a").to_pylist() == [1, 2, 3]
    assert not path.exists()
