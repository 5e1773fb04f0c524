"""Table files: CSV typing rules, Parquet, JSON Lines, atomic output, streaming, round trips."""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knime_llm.errors import ConfigError, DataError
from knime_llm.tablefiles import open_input, open_output
from knime_llm.tables import column_values, is_json_field, json_field

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


# --- CSV: what becomes missing, a number, a boolean ------------------------------------------


def test_only_an_empty_field_is_missing_and_na_words_stay_text(tmp_path: Path) -> None:
    schema, cells = read_csv(tmp_path, 'w,n\nNA,1\nNone,\nNULL,3\nnan,4\nN/A,5\n,6\n"",7\n')
    assert types(schema) == {"w": pa.string(), "n": pa.int64()}
    assert cells["w"] == ["NA", "None", "NULL", "nan", "N/A", None, ""]
    assert cells["n"] == [1, None, 3, 4, 5, 6, 7]


def test_integer_columns_need_every_cell_in_canonical_form(tmp_path: Path) -> None:
    text = (
        "plain,plus,zip,negzero,big,huge,neg\n"
        "1,+5,007,-0,9223372036854775807,9223372036854775808,-9223372036854775808\n"
        "2,6,123,1,1,1,-1\n"
    )
    schema, cells = read_csv(tmp_path, text)
    assert types(schema) == {
        "plain": pa.int64(),
        "plus": pa.string(),
        "zip": pa.string(),
        "negzero": pa.string(),
        "big": pa.int64(),
        "huge": pa.string(),
        "neg": pa.int64(),
    }
    assert cells["zip"] == ["007", "123"]
    assert cells["big"] == [2**63 - 1, 1]
    assert cells["huge"] == ["9223372036854775808", "1"]
    assert cells["neg"] == [-(2**63), -1]


def test_integers_with_empty_cells_stay_integers_and_are_written_as_integers(
    tmp_path: Path,
) -> None:
    source = write_file(tmp_path, "in.csv", "id,n\n1,4\n2,\n3,6\n")
    schema, cells = read(source)
    assert types(schema)["n"] == pa.int64()
    assert cells["n"] == [4, None, 6]
    copy(source, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == "id,n\n1,4\n2,\n3,6\n"


def test_float_columns_need_every_cell_to_round_trip(tmp_path: Path) -> None:
    text = (
        "f,trailing,exp,mixed,nan,pyexp\n"
        "1.5,1.50,1e5,5,nan,1e+16\n"
        "0.1,2.25,1.0,1.5,1.5,2.5e-05\n"
        "-0.0,,,,,\n"
    )
    schema, cells = read_csv(tmp_path, text)
    assert types(schema) == {
        "f": pa.float64(),
        "trailing": pa.string(),
        "exp": pa.string(),
        "mixed": pa.string(),
        "nan": pa.string(),
        "pyexp": pa.float64(),
    }
    assert cells["f"] == [1.5, 0.1, -0.0]
    assert cells["trailing"] == ["1.50", "2.25", None]
    assert cells["pyexp"] == [1e16, 2.5e-05, None]


def test_booleans_only_for_lowercase_true_and_false(tmp_path: Path) -> None:
    schema, cells = read_csv(tmp_path, "a,b,c\ntrue,True,1\nfalse,FALSE,0\n,true,1\n")
    assert types(schema) == {"a": pa.bool_(), "b": pa.string(), "c": pa.int64()}
    assert cells["a"] == [True, False, None]


def test_column_without_any_value_and_header_only_files_are_text(tmp_path: Path) -> None:
    schema, cells = read_csv(tmp_path, "a,b\n,1\n,2\n")
    assert types(schema)["a"] == pa.string() and cells["a"] == [None, None]
    schema, cells = read_csv(tmp_path, "a,b\n")
    assert types(schema) == {"a": pa.string(), "b": pa.string()}
    assert cells == {"a": [], "b": []}


# --- CSV: syntax -----------------------------------------------------------------------------


def test_quotes_newlines_and_delimiters_inside_fields(tmp_path: Path) -> None:
    text = 'id,text\n1,"a, b"\n2,"say ""hi"""\n3,"line 1\nline 2\r\nline 3"\n4,  spaced  \n'
    _, cells = read_csv(tmp_path, text)
    assert cells["text"] == ["a, b", 'say "hi"', "line 1\nline 2\r\nline 3", "  spaced  "]


def test_excel_file_with_bom_semicolons_crlf_and_decimal_commas() -> None:
    schema, cells = read(DATA / "excel_semicolon.csv")
    assert schema.names == ["id", "Produkt", "Preis", "Notiz"]  # no BOM in the first name
    assert cells["id"] == [1, 2, 3]
    assert cells["Produkt"] == ["Kaffee; gemahlen", "Tee", "Käse"]
    assert cells["Preis"] == ["4,99", "3,50", "12,00"]
    assert cells["Notiz"] == ['sagt "lecker"\r\nzweite Zeile', None, "NA"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    others = "".join(c for c in ",;|" if c != delimiter)
    # Quoted text full of the other candidates, and of the delimiter itself, must not mislead.
    quoted = '"' + (others + delimiter) * 5 + '"'
    lines = [delimiter.join(["id", "text", "n"])]
    lines += [delimiter.join([str(i), quoted, str(i * 2)]) for i in range(5)]
    schema, cells = read_csv(tmp_path, "\n".join(lines) + "\n")
    assert schema.names == ["id", "text", "n"]
    assert cells["text"][0] == (others + delimiter) * 5


def test_unquoted_decimal_commas_do_not_make_comma_the_delimiter(tmp_path: Path) -> None:
    schema, cells = read_csv(tmp_path, "name;price;note\napple;1,5;a, b, c\npear;2,25;x\n")
    assert schema.names == ["name", "price", "note"]
    assert cells["note"] == ["a, b, c", "x"]


def test_explicit_delimiter_wins(tmp_path: Path) -> None:
    schema, cells = read_csv(tmp_path, "a;b,c\n1;2,3\n", delimiter=";")
    assert schema.names == ["a", "b,c"] and cells["b,c"] == ["2,3"]
    with pytest.raises(ConfigError, match="single character"):
        read_csv(tmp_path, "a\n1\n", delimiter=";;")


def test_single_column_file_keeps_commas_in_its_text() -> None:
    schema, cells = read(DATA / "single_column.csv")
    assert schema.names == ["prompt"]
    assert cells["prompt"] == [
        "Write a haiku about autumn, leaves and rain",
        "What is 2+2? Answer briefly, please",
        "A quoted prompt, with a comma",
    ]


def test_blank_lines_are_missing_cells_in_one_column_files_and_skipped_otherwise(
    tmp_path: Path,
) -> None:
    _, cells = read_csv(tmp_path, "p\nx\n\ny\n")
    assert cells["p"] == ["x", None, "y"]
    _, cells = read_csv(tmp_path, "a,b\nx,1\n\ny,2\n")
    assert cells == {"a": ["x", "y"], "b": [1, 2]}


def test_tsv_and_txt_exports_are_read_as_delimited_text(tmp_path: Path) -> None:
    for name in ("t.tsv", "t.txt"):
        _, cells = read(write_file(tmp_path, name, "a\tb\nx, y\t1\n"))
        assert cells == {"a": ["x, y"], "b": [1]}


# --- CSV: errors -----------------------------------------------------------------------------


def test_duplicate_and_empty_header_names_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\['a'\] more than once"):
        read_csv(tmp_path, "a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match="column 2 of the header row has no name"):
        read_csv(tmp_path, "a,,c\n1,2,3\n")


def test_row_with_wrong_number_of_fields_names_its_line(tmp_path: Path) -> None:
    text = 'a,b\n1,"two\nlines"\n3,4\n5,6,7\n8,9\n'
    with pytest.raises(DataError, match=r"line 5: the row has 3 fields but the header has 2"):
        read_csv(tmp_path, text)


def test_file_that_is_not_utf8_is_refused_with_advice() -> None:
    with pytest.raises(DataError, match=r"not UTF-8 text.*CSV UTF-8"):
        open_input(DATA / "cp1252.csv")


def test_non_utf8_bytes_far_into_the_file_are_refused(tmp_path: Path) -> None:
    rows = "".join(f"{i},text\n" for i in range(20_000)).encode()
    path = write_file(tmp_path, "late.csv", b"n,t\n" + rows + b"9,caf\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read(path)


def test_empty_file_and_blank_first_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty; it needs a header row"):
        read_csv(tmp_path, "")
    with pytest.raises(DataError, match="blank line"):
        read_csv(tmp_path, "\na,b\n1,2\n")


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


def test_a_cell_larger_than_a_read_block_is_read(tmp_path: Path) -> None:
    long_text = "word " * 2_000_000  # 10 MB, larger than the 1 MB first block
    _, cells = read_csv(tmp_path, f'id,doc\n1,"{long_text}"\n2,short\n')
    assert cells["doc"] == [long_text, "short"]


# --- streaming -------------------------------------------------------------------------------


def test_200k_row_csv_is_read_in_batches_of_at_most_chunk_rows(tmp_path: Path) -> None:
    rows = 200_000
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("id,prompt,score\n")
        for i in range(rows):
            out.write(f'{i},"Summarise document {i}, please, in ""plain"" words",{i / 7!r}\n')
    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()
    with open_input(path, chunk_rows=7_000) as table:
        assert table.num_rows == rows  # known before the first batch
        assert types(table.schema) == {
            "id": pa.int64(),
            "prompt": pa.string(),
            "score": pa.float64(),
        }
        sizes, first_ids, most = [], [], 0
        for batch in table.batches():
            sizes.append(batch.num_rows)
            first_ids.append(batch.column(0)[0].as_py())
            most = max(most, pool.bytes_allocated())
    assert max(sizes) <= 7_000 and sum(sizes) == rows
    assert sizes[:-1] == [7_000] * (len(sizes) - 1)
    assert first_ids == list(range(0, rows, 7_000))
    # Streaming: Arrow never holds more than a few blocks, far less than the file's size.
    assert most - before < path.stat().st_size / 2


def test_batches_can_be_read_again(tmp_path: Path) -> None:
    path = write_file(tmp_path, "t.csv", "a\n1\n2\n3\n")
    with open_input(path, chunk_rows=2) as table:
        first = [b.num_rows for b in table.batches()]
        second = [b.num_rows for b in table.batches()]
    assert first == second == [2, 1]


# --- Parquet ---------------------------------------------------------------------------------


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


# --- JSON Lines ------------------------------------------------------------------------------


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


# --- writing ---------------------------------------------------------------------------------


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


def test_partial_parquet_file_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    schema = pa.schema([("a", pa.int64())])
    with pytest.raises(KeyboardInterrupt):
        with open_output(path, schema) as writer:
            writer.write(pa.record_batch([pa.array([1, 2, 3])], schema=schema))
            raise KeyboardInterrupt
    assert pq.read_table(tmp_path / "o.parquet.partial").column("a").to_pylist() == [1, 2, 3]
    assert not path.exists()


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


def test_tsv_output_uses_tabs(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.string()), ("b", pa.int64())])
    with open_output(tmp_path / "o.tsv", schema) as writer:
        writer.write(pa.record_batch([pa.array(["x\ty", "z"]), pa.array([1, 2])], schema=schema))
    assert (tmp_path / "o.tsv").read_text() == 'a\tb\n"x\ty"\t1\nz\t2\n'
    assert read(tmp_path / "o.tsv")[1] == {"a": ["x\ty", "z"], "b": [1, 2]}


# --- round trips -----------------------------------------------------------------------------

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
