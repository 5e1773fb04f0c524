"""JSON Lines files: column types over all rows, bad lines, output, round trips."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knime_llm.errors import DataError
from knime_llm.tablefiles import open_output
from knime_llm.tablefiles.jsonl import JsonColumnTypes
from knime_llm.tables import is_json_field, json_field
from tests.tablefile_helpers import TRICKY, copy, read, types, write_file


def test_json_column_types_over_all_rows() -> None:
    columns = JsonColumnTypes()
    rows = [
        {
            "text": "a",
            "n": 1,
            "x": 1,
            "flag": True,
            "mix": "s",
            "big": 2**60,
            "huge": 1,
            "none": None,
            "nested": {"k": 1},
            "bools": True,
        },
        {
            "text": "b",
            "n": 2**60,
            "x": 1.5,
            "flag": None,
            "mix": 2,
            "big": 0.5,
            "huge": 2**64,
            "none": None,
            "nested": [1],
            "bools": 1,
        },
        {"late": "z"},
    ]
    for row in rows:
        columns.add(row)
    fields = {f.name: f for f in columns.fields()}
    assert list(fields) == [
        "text",
        "n",
        "x",
        "flag",
        "mix",
        "big",
        "huge",
        "none",
        "nested",
        "bools",
        "late",
    ]
    assert fields["text"].type == pa.string()
    assert fields["n"].type == pa.int64()
    assert fields["x"].type == pa.float64()
    assert fields["flag"].type == pa.bool_()
    assert fields["none"].type == pa.string() and not is_json_field(fields["none"])
    # Mixed types, 2**60 next to a float (not exact as a double), beyond 64 bits, containers,
    # and True next to 1 keep their values in JSON-kind columns.
    for name in ("mix", "big", "huge", "nested", "bools"):
        assert is_json_field(fields[name]), name


def test_jsonl_column_types_are_decided_over_the_whole_file(tmp_path: Path) -> None:
    lines = [
        {"text": "a", "n": 1, "x": 1, "flag": True, "obj": {"k": 1}, "mix": "s", "big": 2**60},
        {"text": "b", "n": 2, "x": 1.5, "flag": False, "obj": [1], "mix": 5, "big": 1.5},
        {"late": "z", "n": None},
    ]
    path = write_file(tmp_path, "t.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n\n")
    schema, cells = read(path)
    assert schema.names == ["text", "n", "x", "flag", "obj", "mix", "big", "late"]
    assert types(schema) == {
        "text": pa.string(),
        "n": pa.int64(),
        "x": pa.float64(),
        "flag": pa.bool_(),
        "obj": pa.string(),
        "mix": pa.string(),
        "big": pa.string(),
        "late": pa.string(),
    }
    assert [name for name in schema.names if is_json_field(schema.field(name))] == [
        "obj",
        "mix",
        "big",
    ]
    assert cells["n"] == [1, 2, None]
    assert cells["x"] == [1.0, 1.5, None]
    assert cells["obj"] == [{"k": 1}, [1], None]
    assert cells["mix"] == ["s", 5, None]
    assert cells["big"] == [2**60, 1.5, None]  # an int64 beyond 2**53 is not made a double
    assert cells["late"] == [None, None, "z"]


def test_jsonl_bad_lines_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"line 3: holds a JSON list, not an object"):
        read(write_file(tmp_path, "t.jsonl", '{"a": 1}\n\n[1, 2]\n'))
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        read(write_file(tmp_path, "t.ndjson", '{"a": 1}\n{"a": \n'))


def test_jsonl_with_bom_and_huge_integers(tmp_path: Path) -> None:
    text = '{"id": 123456789012345678901234567890}\n{"id": -9223372036854775809}\n'
    path = write_file(tmp_path, "t.jsonl", b"\xef\xbb\xbf" + text.encode())
    schema, cells = read(path)
    assert is_json_field(schema.field("id"))
    assert cells["id"] == [123456789012345678901234567890, -9223372036854775809]
    copy(path, tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_text() == text.replace(": ", ":")


def test_jsonl_output_writes_json_values_and_nulls(tmp_path: Path) -> None:
    schema = pa.schema(
        [("t", pa.string()), json_field("j"), ("at", pa.timestamp("s")), ("f", pa.float64())]
    )
    batch = pa.record_batch(
        [
            pa.array(["a", None]),
            pa.array(['{"k":[1,2]}', None]),
            pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None]),
            pa.array([float("nan"), 2.5]),
        ],
        schema=schema,
    )
    path = tmp_path / "o.jsonl"
    with open_output(path, schema) as writer:
        writer.write(batch)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert lines == [
        {"t": "a", "j": {"k": [1, 2]}, "at": "2024-01-02T03:04:05", "f": None},
        {"t": None, "j": None, "at": None, "f": 2.5},
    ]


# --- round trips -----------------------------------------------------------------------------


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(TRICKY)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def strictly_equal(a: object, b: object) -> bool:
    """Equal, with types: True is not 1, and 1 equals only 1.0 (a double column)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b and (type(a) is type(b) or isinstance(b, float))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), JSON_VALUES, min_size=1),
        min_size=1,
        max_size=10,
    )
)
def test_jsonl_round_trip_keeps_every_value(tmp_path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    source = write_file(tmp_path, "in.jsonl", text)
    schema, cells = read(source)
    for name in schema.names:
        for row, value in zip(rows, cells[name]):
            assert strictly_equal(row.get(name), value), (name, row.get(name), value)
    copy(source, tmp_path / "out.jsonl")
    again_schema, again = read(tmp_path / "out.jsonl")
    assert again_schema == schema
    for name in schema.names:
        assert all(strictly_equal(x, y) for x, y in zip(cells[name], again[name]))
