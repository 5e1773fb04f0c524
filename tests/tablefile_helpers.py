"""Helpers shared by the tests of table files: write, read whole, copy, tricky cell texts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from knime_llm.tablefiles import open_input, open_output
from knime_llm.tables import column_values

DATA = Path(__file__).parent / "data" / "tables"


def write_file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def read(path: Path, **options: object) -> tuple[pa.Schema, dict[str, list]]:
    """Schema and cells (as column_values gives them) of a whole file."""
    with open_input(path, **options) as table:
        schema = table.schema
        batches = list(table.batches())
    columns: dict[str, list] = {name: [] for name in schema.names}
    for batch in batches:
        assert batch.schema.equals(schema, check_metadata=True)
        for name in schema.names:
            columns[name].extend(column_values(batch, name))
    return schema, columns


def read_csv(tmp_path: Path, text: str, **options: object) -> tuple[pa.Schema, dict[str, list]]:
    return read(write_file(tmp_path, "t.csv", text), **options)


def types(schema: pa.Schema) -> dict[str, pa.DataType]:
    return {field.name: field.type for field in schema}


def copy(source: Path, target: Path) -> None:
    with open_input(source) as table, open_output(target, table.schema) as writer:
        for batch in table.batches():
            writer.write(batch)


TRICKY = [
    "NA",
    "None",
    "NULL",
    "nan",
    "N/A",
    "007",
    "+5",
    "1.50",
    "1e5",
    "-0",
    "true",
    "True",
    "5",
    "1.5",
    "0.1",
    "-3",
    "9223372036854775808",
    "",
    " ",
    "a,b",
    'q"uote',
    "x\ny",
    "\r\n",
]
