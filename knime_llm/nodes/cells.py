"""What a KNIME column gives a request template: each cell as a user would write it.

KNIME (knime-python 5.5, Arrow backend) hands a Python node its numbers, strings, booleans and
lists of them as plain Arrow arrays; every other column arrives as the Arrow extension type
``knime.logical_type``, whose serialized form names the Java value factory, over that factory's
storage: a Local Date is days since 1970 (``int64``), a Local Date Time the struct ``{"0": days,
"1": nanoseconds of the day}``, a JSON cell ``{"0": file-store key, "1": 8-byte length + UTF-8
text}``. Left alone that storage would reach a template (``{{d}}`` as ``19860``).

This module is the node layer's one step between the two: :func:`column_values` reads a column
the way the engine's :func:`knime_llm.tables.column_values` does for plain Arrow, but decodes
KNIME's types first (Date&Time as ISO-8601 text via :mod:`.datetimes`, JSON cells as JSON values,
lists and sets of these as lists); :func:`check_columns` refuses, when the node is configured,
every column a body reads whose type has no such meaning, naming the column and its type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import knime.extension as knext
import pyarrow as pa
import pyarrow.types as pat

from ..errors import ConfigError, DataError
from ..jsonvalues import loads_json
from ..tables import column_values as plain_values
from .datetimes import iso_date, iso_date_time, iso_duration, iso_period, iso_time, iso_zoned

#: The Arrow extension name of KNIME's value-factory types.
KNIME_EXTENSION = "knime.logical_type"

_VALUE = "org.knime.core.data.v2.value."
_TIME = "org.knime.core.data.v2.time."
JSON_FACTORY = "org.knime.core.data.json.JSONValueFactory"

Decoder = Callable[[list[Any]], list[Any]]


def _each(convert: Callable[[Any], Any]) -> Decoder:
    return lambda cells: [None if cell is None else convert(cell) for cell in cells]


def _boolean_set(cell: dict[str, bool]) -> list[bool | None]:
    # KNIME's BooleanSetValueFactory stores which values occur: "0" true, "1" false, "2" missing.
    flags = ((cell["0"], True), (cell["1"], False), (cell["2"], None))
    return [value for present, value in flags if present]


#: Value factories whose storage, as Python values, becomes the cell's text or value.
_DECODERS: dict[str, Decoder] = {
    _TIME + "LocalDateValueFactory": _each(iso_date),
    _TIME + "LocalTimeValueFactory": _each(iso_time),
    _TIME + "LocalDateTimeValueFactory": _each(lambda s: iso_date_time(s["0"], s["1"])),
    _TIME + "ZonedDateTimeValueFactory2": _each(lambda s: iso_zoned(s["0"], s["1"], s["2"], s["3"])),
    _TIME + "DurationValueFactory": _each(lambda s: iso_duration(s["0"], s["1"])),
    _TIME + "PeriodValueFactory": _each(lambda s: iso_period(s["0"], s["1"], s["2"])),
    _VALUE + "BooleanSetValueFactory": _each(_boolean_set),
}
#: Value factories whose storage already is the value (KNIME unwraps most of them itself).
_PLAIN = {_VALUE + name for name in (
    "IntValueFactory", "LongValueFactory", "DoubleValueFactory", "StringValueFactory", "BooleanValueFactory",
    "IntListValueFactory", "LongListValueFactory", "DoubleListValueFactory", "StringListValueFactory",
    "BooleanListValueFactory", "ListValueFactory", "SetValueFactory", "IntSetValueFactory",
    "LongSetValueFactory", "DoubleSetValueFactory", "StringSetValueFactory")}
_VOID = _VALUE + "VoidValueFactory"
_NAMES = {
    _TIME + "LocalDateValueFactory": "Local Date", _TIME + "LocalTimeValueFactory": "Local Time",
    _TIME + "LocalDateTimeValueFactory": "Local Date Time", _TIME + "ZonedDateTimeValueFactory2": "Zoned Date Time",
    _TIME + "DurationValueFactory": "Duration", _TIME + "PeriodValueFactory": "Period", JSON_FACTORY: "JSON",
}


def value_factory(logical_type: str) -> str:
    """The Java value factory class a KNIME logical type names ("" when it names none)."""
    try:
        data = json.loads(logical_type)
    except ValueError:
        return ""
    return str(data.get("value_factory_class", "")) if isinstance(data, dict) else ""


def check_columns(schema: knext.Schema, names: Sequence[str]) -> None:
    """Refuse, at configure time, a body that reads a column no template can hold.

    Raises:
        ConfigError: a named column's KNIME type has no text or JSON form (an image, a molecule,
            an old Date and Time cell, ...); the message names the column and its type.
    """
    for name in names:
        column = schema[name]
        if not _supported(column.ktype):
            raise ConfigError(
                f"column '{name}' is of type {type_name(column)}, which cannot be put into a request body; "
                "convert it to text first (e.g. with a String Manipulation or Column Expressions node)")


def type_name(column: knext.Column) -> str:
    """The name KNIME shows for a column's type, else a readable stand-in (never its storage)."""
    shown = (column.metadata or {}).get("displayed_column_type")
    if shown:
        return str(shown)
    ktype = column.ktype
    if isinstance(ktype, knext.LogicalType):
        factory = value_factory(ktype.logical_type)
        if factory in _NAMES:
            return _NAMES[factory]
        cell = json.loads(ktype.logical_type).get("data_type", {}).get("cell_class") if factory else None
        return (cell or factory or "an unknown type").rsplit(".", 1)[-1].removesuffix("ValueFactory")
    if isinstance(ktype, knext.ListType):
        return f"a list of {type_name(knext.Column(ktype.inner_type, column.name))}"
    return str(ktype)


def _supported(ktype: Any) -> bool:
    if isinstance(ktype, knext.ListType):
        return _supported(ktype.inner_type)
    if isinstance(ktype, knext.LogicalType):
        factory = value_factory(ktype.logical_type)
        if factory in _PLAIN:  # typed lists and sets: their elements decide
            return _supported(ktype.storage_type)
        return factory in _DECODERS or factory in (JSON_FACTORY, _VOID)
    if isinstance(ktype, knext.StructType):
        return False
    return ktype in (knext.string(), knext.int32(), knext.int64(), knext.double(), knext.bool_(), knext.null())


def column_values(batch: pa.RecordBatch, name: str) -> list[Any]:
    """The cells of one column as JSON-compatible values, KNIME's types decoded.

    A drop-in for :func:`knime_llm.tables.column_values` (the engine's reader for plain Arrow):
    Date&Time cells become ISO-8601 text, JSON cells their JSON values, lists and sets lists,
    missing cells ``None``.

    Raises:
        KeyError, ValueError: as the engine's reader (no such column, or a duplicate name).
        DataError: a column of a KNIME type this module cannot read (configure refuses those).
    """
    index = batch.schema.get_field_index(name)
    if index < 0 or not _has_knime_type(batch.schema.field(index).type):
        return plain_values(batch, name)
    return _values(batch.column(index), name)


def _has_knime_type(t: pa.DataType) -> bool:
    if isinstance(t, pa.ExtensionType):
        return True
    if pat.is_list(t) or pat.is_large_list(t):
        return _has_knime_type(t.value_type)
    if pat.is_struct(t):
        return any(_has_knime_type(t.field(i).type) for i in range(t.num_fields))
    return False


def _values(array: pa.Array, name: str) -> list[Any]:
    t = array.type
    if not _has_knime_type(t):
        return plain_values(pa.record_batch([array], names=[name]), name)
    if pat.is_list(t) or pat.is_large_list(t):
        return _list_values(array, name)
    factory = value_factory(t.__arrow_ext_serialize__().decode()) if _is_knime(t) else ""
    if factory in _PLAIN:
        return _values(array.storage, name)
    if factory == _VOID:
        return [None] * len(array)
    if factory == JSON_FACTORY:
        return _json_values(array)
    if factory in _DECODERS:
        return _DECODERS[factory](array.storage.to_pylist())
    raise DataError(f"column '{name}' holds {factory or t}, which cannot be put into a request body")


def _is_knime(t: pa.DataType) -> bool:
    return isinstance(t, pa.ExtensionType) and t.extension_name == KNIME_EXTENSION


def _list_values(array: pa.Array, name: str) -> list[Any]:
    # The children are decoded once, then cut by the offsets (which already account for slicing).
    items = _values(array.values, name)
    offsets = array.offsets.to_pylist()
    valid = array.is_valid().to_pylist()
    return [items[offsets[i]:offsets[i + 1]] if valid[i] else None for i in range(len(array))]


def _json_values(array: pa.ExtensionArray) -> list[Any]:
    """JSON cells: stored in the table as 8 length bytes and the UTF-8 text, or in a file store."""
    storage = array.storage
    keys = storage.field("0").to_pylist()
    blobs = storage.field("1").to_pylist()
    valid = storage.is_valid().to_pylist()
    values: list[Any] = []
    for i, (key, blob) in enumerate(zip(keys, blobs)):
        if not valid[i]:
            values.append(None)
        elif key is None:
            values.append(loads_json(blob[8:]))
        else:
            values.append(_file_store_json(array, i))
    return values


def _file_store_json(array: pa.ExtensionArray, index: int) -> Any:
    # Large JSON cells live in a KNIME file store that only KNIME's own value factory can open;
    # inside KNIME the extension scalar decodes through it. Without it the storage comes back.
    value = array[index].as_py()
    if isinstance(value, dict) and set(value) == {"0", "1"}:
        raise DataError("a JSON cell stored in a KNIME file store can only be read inside KNIME")
    return value
