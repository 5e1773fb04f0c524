"""CSV files read as typed columns: what becomes missing, a number, a boolean; syntax; streaming."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from knime_llm.errors import DataError
from knime_llm.tablefiles import open_input
from tests.tablefile_helpers import read, read_csv, types, write_file

# --- what becomes missing, a number, a boolean -----------------------------------------------


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


# --- syntax ----------------------------------------------------------------------------------


def test_quotes_newlines_and_delimiters_inside_fields(tmp_path: Path) -> None:
    text = 'id,text\n1,"a, b"\n2,"say ""hi"""\n3,"line 1\nline 2\r\nline 3"\n4,  spaced  \n'
    _, cells = read_csv(tmp_path, text)
    assert cells["text"] == ["a, b", 'say "hi"', "line 1\nline 2\r\nline 3", "  spaced  "]


def test_blank_lines_are_missing_cells_in_one_column_files_and_skipped_otherwise(
    tmp_path: Path,
) -> None:
    _, cells = read_csv(tmp_path, "p\nx\n\ny\n")
    assert cells["p"] == ["x", None, "y"]
    _, cells = read_csv(tmp_path, "a,b\nx,1\n\ny,2\n")
    assert cells == {"a": ["x", "y"], "b": [1, 2]}


# --- errors ----------------------------------------------------------------------------------


def test_row_with_wrong_number_of_fields_names_its_line(tmp_path: Path) -> None:
    text = 'a,b\n1,"two\nlines"\n3,4\n5,6,7\n8,9\n'
    with pytest.raises(DataError, match=r"line 5: the row has 3 fields but the header has 2"):
        read_csv(tmp_path, text)


def test_non_utf8_bytes_far_into_the_file_are_refused(tmp_path: Path) -> None:
    rows = "".join(f"{i},text\n" for i in range(20_000)).encode()
    path = write_file(tmp_path, "late.csv", b"n,t\n" + rows + b"9,caf\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read(path)


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
