"""Choosing the reader and writer of a table file by its extension, and checking the options."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from knime_llm.errors import ConfigError, DataError
from knime_llm.tablefiles import open_input, open_output
from tests.tablefile_helpers import read, write_file


def test_tsv_and_txt_exports_are_read_as_delimited_text(tmp_path: Path) -> None:
    for name in ("t.tsv", "t.txt"):
        _, cells = read(write_file(tmp_path, name, "a\tb\nx, y\t1\n"))
        assert cells == {"a": ["x, y"], "b": [1]}


def test_missing_file_directory_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"input file .*nope\.csv does not exist; check the path"):
        open_input(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        open_input(tmp_path / "dir.csv")
    with pytest.raises(DataError, match=r"unknown extension '\.xlsx'.*\.csv"):
        open_input(write_file(tmp_path, "t.xlsx", "x"))
    with pytest.raises(ConfigError, match="chunk rows"):
        open_input(write_file(tmp_path, "t.csv", "a\n1\n"), chunk_rows=0)


def test_tsv_output_uses_tabs(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.string()), ("b", pa.int64())])
    with open_output(tmp_path / "o.tsv", schema) as writer:
        writer.write(pa.record_batch([pa.array(["x\ty", "z"]), pa.array([1, 2])], schema=schema))
    assert (tmp_path / "o.tsv").read_text() == 'a\tb\n"x\ty"\t1\nz\t2\n'
    assert read(tmp_path / "o.tsv")[1] == {"a": ["x\ty", "z"], "b": [1, 2]}
