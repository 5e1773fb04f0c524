"""Tables in memory: cells as JSON values for request bodies, column names and kinds."""

from __future__ import annotations

import datetime
import decimal
import math

import pyarrow as pa
import pytest

from knime_llm.errors import DataError
from knime_llm.tables import (
    JSON_KIND_KEY,
    column_values,
    is_json_field,
    json_field,
    unique_names,
)


def values(array: pa.Array, field: pa.Field | None = None) -> list:
    field = field or pa.field("c", array.type)
    return column_values(pa.RecordBatch.from_arrays([array], schema=pa.schema([field])), field.name)


# --- JSON-kind fields ------------------------------------------------------------------------


def test_json_field_is_a_marked_string_column() -> None:
    field = json_field("payload")
    assert field.type == pa.string()
    assert field.metadata == {JSON_KIND_KEY: b"json"}
    assert is_json_field(field)
    assert not is_json_field(pa.field("payload", pa.string()))
    # The mark means nothing on a column that cannot hold JSON text.
    assert not is_json_field(pa.field("n", pa.int64(), metadata={JSON_KIND_KEY: b"json"}))


def test_json_kind_cells_are_given_parsed() -> None:
    texts = pa.array(['{"a":[1,2]}', '"text"', "3", "null", None, "[true,1.5]"])
    assert values(texts, json_field("c")) == [{"a": [1, 2]}, "text", 3, None, None, [True, 1.5]]


def test_json_kind_keeps_integers_beyond_64_bits_exact() -> None:
    assert values(pa.array(["123456789012345678901234567890"]), json_field("c")) == [
        123456789012345678901234567890
    ]


def test_json_kind_cell_that_is_not_json_raises() -> None:
    with pytest.raises(ValueError):
        values(pa.array(["{not json"]), json_field("c"))


# --- column_values: common types -------------------------------------------------------------


def test_text_stays_text_even_when_it_looks_like_json_or_a_number() -> None:
    cells = ['{"a": 1}', "5", "007", "true", "", None, "NA"]
    assert values(pa.array(cells, pa.string())) == cells
    assert values(pa.array(cells, pa.large_string())) == cells


def test_integers_stay_exact_64_bit_integers_and_missing_is_none() -> None:
    cells = [2**63 - 1, -(2**63), None, 0]
    result = values(pa.array(cells, pa.int64()))
    assert result == cells
    assert all(type(v) is int for v in result if v is not None)
    assert values(pa.array([2**64 - 1], pa.uint64())) == [2**64 - 1]
    assert values(pa.array([1, 2, 3], pa.int8())) == [1, 2, 3]


def test_floats_stay_floats_and_nan_and_infinity_become_none() -> None:
    result = values(pa.array([1.0, float("nan"), None, float("inf"), -float("inf"), 0.1]))
    assert result == [1.0, None, None, None, None, 0.1]
    assert type(result[0]) is float  # 1.0 is not turned into 1
    assert values(pa.array([0.5, float("nan")], pa.float32())) == [0.5, None]
    assert values(pa.array([1.5], pa.float16())) == [1.5]


def test_booleans_and_missing() -> None:
    assert values(pa.array([True, False, None])) == [True, False, None]


def test_all_missing_column() -> None:
    assert values(pa.nulls(3)) == [None, None, None]


def test_works_on_tables_with_several_chunks() -> None:
    table = pa.Table.from_batches(
        [pa.record_batch({"n": [1, None]}), pa.record_batch({"n": [3, 4]})]
    )
    assert column_values(table, "n") == [1, None, 3, 4]
    floats = pa.table({"f": pa.chunked_array([[1.5], [float("nan")]])})
    assert column_values(floats, "f") == [1.5, None]


def test_dictionary_columns_give_their_values() -> None:
    array = pa.array(["a", "b", None, "a"]).dictionary_encode()
    assert values(array) == ["a", "b", None, "a"]


def test_unknown_or_ambiguous_column_name() -> None:
    batch = pa.RecordBatch.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(KeyError, match="no column named 'b'"):
        column_values(batch, "b")
    with pytest.raises(ValueError, match="more than once"):
        column_values(batch, "a")


# --- column_values: nested and other types ---------------------------------------------------


def test_struct_fields_that_are_null_are_left_out_recursively() -> None:
    t = pa.struct(
        [
            ("name", pa.string()),
            ("age", pa.int64()),
            ("inner", pa.struct([("x", pa.float64()), ("y", pa.string())])),
        ]
    )
    array = pa.array(
        [
            {"name": "a", "age": None, "inner": {"x": float("nan"), "y": "z"}},
            {"name": None, "age": 3, "inner": None},
            None,
        ],
        t,
    )
    assert values(array) == [{"name": "a", "inner": {"y": "z"}}, {"age": 3}, None]


def test_lists_of_structs_and_maps() -> None:
    messages = pa.array(
        [[{"role": "user", "content": "hi", "name": None}], [], None],
        pa.list_(
            pa.struct([("role", pa.string()), ("content", pa.string()), ("name", pa.string())])
        ),
    )
    assert values(messages) == [[{"role": "user", "content": "hi"}], [], None]
    assert values(pa.array([[1.5, None, float("nan")]], pa.large_list(pa.float64()))) == [
        [1.5, None, None]
    ]
    mapping = pa.array([[("k", 1), ("j", None)]], pa.map_(pa.string(), pa.int64()))
    assert values(mapping) == [{"k": 1, "j": None}]
    int_keys = pa.array([[(7, "x")]], pa.map_(pa.int32(), pa.string()))
    assert values(int_keys) == [{"7": "x"}]


def test_temporal_values_become_iso_8601_text() -> None:
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    assert values(pa.array([moment, None], pa.timestamp("us"))) == [
        "2024-05-06T07:08:09.123456",
        None,
    ]
    aware = pa.array([moment], pa.timestamp("ms", tz="UTC"))
    assert values(aware) == ["2024-05-06T07:08:09.123000+00:00"]
    assert values(pa.array([moment], pa.timestamp("ns")))[0].startswith(
        "2024-05-06T07:08:09.123456"
    )
    assert values(pa.array([datetime.date(2024, 2, 29)])) == ["2024-02-29"]
    assert values(pa.array([datetime.time(13, 5)])) == ["13:05:00"]


def test_decimals_are_floats_when_exact_else_text() -> None:
    t = pa.decimal128(38, 2)
    cells = [decimal.Decimal("12.50"), decimal.Decimal("0.10"), None]
    assert values(pa.array(cells, t)) == [12.5, 0.1, None]
    huge = decimal.Decimal("123456789012345678901234567890.12")
    assert values(pa.array([huge], t)) == ["123456789012345678901234567890.12"]


def test_binary_becomes_base64_text_and_other_types_their_str() -> None:
    assert values(pa.array([b"\x00\xffhi", None], pa.binary())) == ["AP9oaQ==", None]
    duration = values(pa.array([datetime.timedelta(seconds=90)], pa.duration("s")))
    assert duration == [str(datetime.timedelta(seconds=90))]


# --- names and kinds -------------------------------------------------------------------------


def test_unique_names_knime_style() -> None:
    assert unique_names(["prompt"], ["body", "status"]) == ["body", "status"]
    assert unique_names(["body", "status"], ["body", "status"]) == ["body (#1)", "status (#1)"]
    assert unique_names(["body", "body (#1)"], ["body"]) == ["body (#2)"]
    # Clashes among the wanted names themselves, and names already carrying a counter.
    assert unique_names([], ["x", "x", "x"]) == ["x", "x (#1)", "x (#2)"]
    assert unique_names(["body (#1)"], ["body (#1)"]) == ["body (#2)"]
    # Case matters, as in KNIME.
    assert unique_names(["Body"], ["body"]) == ["body"]


def test_float_nan_fix_does_not_touch_finite_values() -> None:
    cells = [5e-324, 1.7976931348623157e308, -0.0]
    result = values(pa.array(cells))
    assert result == cells and math.copysign(1, result[2]) == -1


class _Tagged(pa.ExtensionType):
    """An extension type whose storage (an int) is not what its cells mean (a date, say)."""

    def __init__(self) -> None:
        super().__init__(pa.int64(), "test.tagged")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> "_Tagged":
        return cls()


@pytest.mark.parametrize("wrap", [lambda a: a, lambda a: pa.ListArray.from_arrays(pa.array([0, 1]), a)])
def test_extension_types_are_refused_rather_than_their_storage_given(wrap) -> None:
    column = wrap(pa.ExtensionArray.from_storage(_Tagged(), pa.array([19860])))
    with pytest.raises(DataError, match="column 'd' is of the Arrow extension type .* convert it to a plain type"):
        column_values(pa.record_batch([column], names=["d"]), "d")
