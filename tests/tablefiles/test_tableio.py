"""What all table files share: batches of exactly chunk_rows rows, atomic output, partial files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from knime_llm.errors import ConfigError
from knime_llm.tablefiles import open_output
from knime_llm.tablefiles.tableio import rechunk


def test_rechunk_cuts_and_joins_to_the_wanted_size() -> None:
    schema = pa.schema([pa.field("n", pa.int64(), metadata={b"k": b"v"})])
    parts = [
        pa.record_batch({"n": list(range(start, start + size))})
        for start, size in ((0, 3), (3, 10), (13, 1), (14, 6))
    ]
    out = list(rechunk(parts, 4, schema))
    assert [b.num_rows for b in out] == [4, 4, 4, 4, 4]
    assert all(b.schema.equals(schema, check_metadata=True) for b in out)
    assert [v for b in out for v in b.column(0).to_pylist()] == list(range(20))
    assert list(rechunk([], 4, schema)) == []


def test_output_appears_only_when_closed(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    schema = pa.schema([("a", pa.int64())])
    with open_output(path, schema) as writer:
        writer.write(pa.record_batch([pa.array([1])], schema=schema))
        assert not path.exists()
    assert path.read_text() == "a\n1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["o.csv"]  # no temporary file left


def test_failure_inside_with_keeps_partial_file_and_old_target(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("old results\n")
    schema = pa.schema([("a", pa.int64())])
    with pytest.raises(RuntimeError) as err:
        with open_output(path, schema) as writer:
            writer.write(pa.record_batch([pa.array([1, 2])], schema=schema))
            raise RuntimeError("boom")
    assert path.read_text() == "old results\n"
    partial = tmp_path / "o.csv.partial"
    assert partial.read_text() == "a\n1\n2\n"
    assert writer.partial_path == partial
    assert any("o.csv.partial" in note for note in getattr(err.value, "__notes__", []))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.csv.partial"]


def test_failure_before_any_row_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with open_output(tmp_path / "o.jsonl", pa.schema([("a", pa.int64())])):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_checks(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.int64())])
    with pytest.raises(ConfigError, match="unknown extension '.xlsx'"):
        open_output(tmp_path / "o.xlsx", schema)
    with pytest.raises(ConfigError, match="does not exist; create it first"):
        open_output(tmp_path / "missing" / "o.csv", schema)
    with pytest.raises(ValueError, match="more than once"):
        open_output(tmp_path / "o.csv", pa.schema([("a", pa.int64()), ("a", pa.string())]))
    with open_output(tmp_path / "o.csv", schema) as writer:
        with pytest.raises(ValueError, match="do not match"):
            writer.write(pa.record_batch([pa.array(["x"])], names=["a"]))
