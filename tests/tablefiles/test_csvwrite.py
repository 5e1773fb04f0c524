"""CSV output in the form it is read back from, and round trips that keep every cell."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knime_llm.tablefiles import open_output
from knime_llm.tables import json_field
from tests.tablefile_helpers import TRICKY, copy, read, types, write_file


def test_integers_with_empty_cells_stay_integers_and_are_written_as_integers(
    tmp_path: Path,
) -> None:
    source = write_file(tmp_path, "in.csv", "id,n\n1,4\n2,\n3,6\n")
    schema, cells = read(source)
    assert types(schema)["n"] == pa.int64()
    assert cells["n"] == [4, None, 6]
    copy(source, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == "id,n\n1,4\n2,\n3,6\n"


def test_csv_output_form(tmp_path: Path) -> None:
    schema = pa.schema(
        [
            ("text", pa.string()),
            ("n", pa.int64()),
            ("f", pa.float64()),
            ("ok", pa.bool_()),
            json_field("j"),
            ("s", pa.struct([("a", pa.int64()), ("b", pa.string())])),
            ("l", pa.list_(pa.string())),
            ("d", pa.date32()),
        ]
    )
    batch = pa.record_batch(
        [
            pa.array(['say "hi", ok', "", None]),
            pa.array([1, None, -(2**63)]),
            pa.array([5.0, 1e16, None]),
            pa.array([True, False, None]),
            pa.array(['{"k":1}', None, "[1]"]),
            pa.array([{"a": 1, "b": None}, None, {"a": 2, "b": "x"}], schema.field("s").type),
            pa.array([["x", "y"], [], None]),
            pa.array([datetime.date(2024, 3, 1), None, None]),
        ],
        schema=schema,
    )
    path = tmp_path / "o.csv"
    with open_output(path, schema) as writer:
        writer.write(batch)
    assert path.read_bytes().decode() == (
        "text,n,f,ok,j,s,l,d\n"
        '"say ""hi"", ok",1,5.0,true,"{""k"":1}","{""a"":1}","[""x"",""y""]",2024-03-01\n'
        '"",,1e+16,false,,,[],\n'
        ',-9223372036854775808,,,[1],"{""a"":2,""b"":""x""}",,\n'
    )


def test_csv_output_of_other_number_types_is_exact(tmp_path: Path) -> None:
    cat = pa.dictionary(pa.int8(), pa.string())
    schema = pa.schema([("f32", pa.float32()), ("dec", pa.decimal128(6, 2)), ("cat", cat)])
    batch = pa.record_batch(
        [
            pa.array([0.1, float("nan"), None], pa.float32()),
            pa.array([decimal.Decimal("12.50"), None, decimal.Decimal("-0.01")], schema[1].type),
            pa.array(["a b", None, "x,y"]).dictionary_encode().cast(cat),
        ],
        schema=schema,
    )
    with open_output(tmp_path / "o.csv", schema) as writer:
        writer.write(batch)
    assert (tmp_path / "o.csv").read_text() == 'f32,dec,cat\n0.1,12.50,a b\nnan,,\n,-0.01,"x,y"\n'


# --- round trips -----------------------------------------------------------------------------


TEXT = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.text(st.sampled_from(',;\t|"\n\r 0123456789.-+eE'), max_size=8),
)


SAFE_UNQUOTED = set(',;\t|"\r\n\x1f')


def csv_field(value: str | None, quote: bool) -> str:
    if value is None:
        return ""
    if quote or value == "" or set(value) & SAFE_UNQUOTED:
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[list[str], list[list[str | None]], str]:
    names = draw(
        st.lists(
            st.text(
                st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff"),
                min_size=1,
                max_size=6,
            ),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    rows = draw(
        st.lists(
            st.lists(st.one_of(st.none(), TEXT), min_size=len(names), max_size=len(names)),
            max_size=12,
        )
    )
    quotes = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    lines = [",".join(csv_field(n, True) for n in names)]
    lines += [",".join(csv_field(v, q) for v, q in zip(row, quotes)) for row in rows]
    return names, rows, "\r\n".join(lines) + "\r\n"


def as_written(value: object) -> str | None:
    """The text a typed cell was read from."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(csv_files())
def test_csv_round_trip_keeps_every_cell(tmp_path: Path, case: tuple) -> None:
    names, rows, text = case
    source = write_file(tmp_path, "in.csv", text)
    schema, cells = read(source, delimiter=None)
    assert schema.names == names
    for i, name in enumerate(names):
        assert [as_written(v) for v in cells[name]] == [row[i] for row in rows], name
    copy(source, tmp_path / "out.csv")
    again_schema, again = read(tmp_path / "out.csv")
    assert again_schema == schema and again == cells
