"""Prompt tables in memory: Arrow record batches, and their cells as JSON-compatible values.

Every input format is read as a stream of :class:`pyarrow.RecordBatch` es sharing one schema.
A column whose cells are arbitrary JSON values (objects, lists, or a mix of types) is kept as a
string column of compact JSON text and marked with the field metadata
``{b"knime_llm.kind": b"json"}``; :func:`column_values` hands its cells out parsed again.

This module does no file I/O; :mod:`knime_llm.tablefiles` reads and writes files.
"""

from __future__ import annotations

import base64
import decimal
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from .errors import DataError
from .jsonvalues import LONG_DIGITS_PATTERN, dumps_json, loads_json_exact

#: Field metadata key that marks a string column as holding JSON text.
JSON_KIND_KEY = b"knime_llm.kind"
_JSON_KIND = b"json"


def json_field(name: str) -> pa.Field:
    """Return a nullable string field marked as holding compact JSON text.

    Args:
        name: Column name.

    Returns:
        A ``pa.string()`` field with the JSON-kind metadata.
    """
    return pa.field(name, pa.string(), nullable=True, metadata={JSON_KIND_KEY: _JSON_KIND})


def is_json_field(field: pa.Field) -> bool:
    """Tell whether a field is a string column marked as holding JSON text."""
    meta = field.metadata
    return (
        bool(meta)
        and meta.get(JSON_KIND_KEY) == _JSON_KIND
        and (pat.is_string(field.type) or pat.is_large_string(field.type))
    )


def unique_names(existing: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """Choose names for appended columns that clash neither with the table nor with each other.

    A clashing name gets KNIME's suffix: ``body`` becomes ``body (#1)``, then ``body (#2)`` and
    so on; a name that already ends in ``(#n)`` counts on from ``n``. Names are case-sensitive.

    Args:
        existing: Names of the columns already in the table.
        wanted: Names wished for the new columns, in order.

    Returns:
        One name per wanted name, in the same order.
    """
    taken = set(existing)
    result: list[str] = []
    for name in wanted:
        chosen = name
        if chosen in taken:
            match = re.fullmatch(r"(.*) \(#(\d+)\)", name, flags=re.DOTALL)
            base, n = (match.group(1), int(match.group(2)) + 1) if match else (name, 1)
            while f"{base} (#{n})" in taken:
                n += 1
            chosen = f"{base} (#{n})"
        taken.add(chosen)
        result.append(chosen)
    return result


def column_values(batch: pa.RecordBatch | pa.Table, name: str) -> list[Any]:
    """Return the cells of one column as JSON-compatible Python values, for request bodies.

    Text stays text (even when it looks like JSON or a number), integers stay exact integers,
    floats stay floats except NaN and infinities, which become ``None`` (JSON has no such values),
    and missing cells are ``None``. JSON-kind columns give their parsed values. Structs become dicts
    without the fields that are null (Parquet cannot tell an absent field from a null one), lists
    and maps become lists and dicts, temporal values ISO-8601 text, decimals a float when the float
    prints as the same number and text otherwise, binary values base64 text; anything else its
    ``str``. Arrow extension types are refused: their storage is not their meaning (the KNIME
    nodes decode KNIME's own types before they get here, see :mod:`knime_llm.nodes.cells`).

    Args:
        batch: A record batch or table.
        name: Column name; must occur exactly once.

    Returns:
        One value per row.

    Raises:
        KeyError: there is no column of that name.
        ValueError: the name occurs more than once, or a JSON-kind cell is not JSON.
        DataError: the column's type is, or holds, an Arrow extension type.
    """
    index = batch.schema.get_field_index(name)
    if index < 0:
        if name in batch.schema.names:
            raise ValueError(f"column name {name!r} occurs more than once")
        raise KeyError(f"no column named {name!r}")
    field = batch.schema.field(index)
    column = batch.column(index)
    if _has_extension_type(field.type):
        raise DataError(f"column {name!r} is of the Arrow extension type {field.type}, whose stored values are "
                        "not what its cells mean; convert it to a plain type (text, number, date) first")
    if is_json_field(field):
        texts = _fast_list(column, field.type)
        if pc.any(pc.match_substring_regex(column, LONG_DIGITS_PATTERN)).as_py():
            return [None if v is None else loads_json_exact(v) for v in texts]
        loads = orjson.loads  # no integer beyond 64 bits anywhere in this column
        return [None if v is None else loads(v) for v in texts]
    return _values(column, field.type)


def _values(column: pa.Array | pa.ChunkedArray, t: pa.DataType) -> list[Any]:
    """Cells of an array of type ``t`` as JSON-compatible values."""
    if pat.is_dictionary(t):
        return _values(_decode(column), t.value_type)
    fast = _fast_list(column, t)
    if fast is not None:
        return fast
    convert = _converter(t)
    values = column.to_pylist()
    if convert is None:
        return values
    return [None if v is None else convert(v) for v in values]


def _fast_list(column: pa.Array | pa.ChunkedArray, t: pa.DataType) -> list[Any] | None:
    """The common column types through numpy, which is ten times faster than ``to_pylist``.

    Returns None for the types it does not handle.
    """
    if pat.is_null(t):
        return [None] * len(column)
    if pat.is_string(t) or pat.is_large_string(t) or _is_string_view(t) or pat.is_boolean(t):
        # Object arrays hold Python str/bool and None for nulls: exactly what is wanted.
        return column.to_numpy(zero_copy_only=False).tolist()
    if pat.is_integer(t):
        if column.null_count == 0:
            return column.to_numpy().tolist()
        values = column.fill_null(0).to_numpy().tolist()
        for k in np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)).tolist():
            values[k] = None
        return values
    if pat.is_float32(t) or pat.is_float64(t):
        # Nulls arrive as NaN here; both they and the infinities become None.
        array = column.to_numpy(zero_copy_only=False)
        values = array.tolist()
        for k in np.flatnonzero(~np.isfinite(array)).tolist():
            values[k] = None
        return values
    return None


def _has_extension_type(t: pa.DataType) -> bool:
    if isinstance(t, pa.ExtensionType):
        return True
    if pat.is_dictionary(t):
        return _has_extension_type(t.value_type)
    if pat.is_map(t):
        return _has_extension_type(t.key_type) or _has_extension_type(t.item_type)
    if pat.is_struct(t):
        return any(_has_extension_type(t.field(i).type) for i in range(t.num_fields))
    value_type = getattr(t, "value_type", None)  # the list types
    return value_type is not None and _has_extension_type(value_type)


def _is_string_view(t: pa.DataType) -> bool:
    check = getattr(pat, "is_string_view", None)
    return bool(check and check(t))


def _decode(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array(
            [c.dictionary_decode() for c in column.chunks], column.type.value_type
        )
    return column.dictionary_decode()


def _converter(t: pa.DataType) -> Callable[[Any], Any] | None:
    """A function turning one non-null ``to_pylist`` value of type ``t`` into a JSON value.

    None means the value is JSON-compatible as it is.
    """
    if (
        pat.is_string(t)
        or pat.is_large_string(t)
        or _is_string_view(t)
        or pat.is_integer(t)
        or pat.is_boolean(t)
        or pat.is_null(t)
    ):
        return None
    if pat.is_floating(t):
        return _finite_float
    if pat.is_dictionary(t):
        return _converter(t.value_type)
    if pat.is_struct(t):
        fields = {t.field(i).name: _converter(t.field(i).type) for i in range(t.num_fields)}
        return lambda v: _struct_value(v, fields)
    if pat.is_map(t):
        key, item = _converter(t.key_type), _converter(t.item_type)
        return lambda v: {_json_key(k, key): _apply(item, x) for k, x in v}
    if pat.is_list(t) or pat.is_large_list(t) or pat.is_fixed_size_list(t) or _is_list_view(t):
        item = _converter(t.value_type)
        if item is None:
            return None
        return lambda v: [_apply(item, x) for x in v]
    if pat.is_timestamp(t) or pat.is_date(t) or pat.is_time(t):
        return lambda v: v.isoformat()
    if pat.is_decimal(t):
        return _decimal_value
    if pat.is_binary(t) or pat.is_large_binary(t) or pat.is_fixed_size_binary(t):
        return lambda v: base64.b64encode(v).decode("ascii")
    return str


def _is_list_view(t: pa.DataType) -> bool:
    check = getattr(pat, "is_list_view", None)
    large = getattr(pat, "is_large_list_view", None)
    return bool((check and check(t)) or (large and large(t)))


def _apply(convert: Callable[[Any], Any] | None, value: Any) -> Any:
    if value is None or convert is None:
        return value
    return convert(value)


def _finite_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _struct_value(value: dict[str, Any], fields: dict[str, Callable[[Any], Any] | None]) -> dict:
    # Null fields are left out: `{"name": null}` would fail schemas that expect a string if present.
    out = {}
    for key, item in value.items():
        if item is not None:
            item = _apply(fields.get(key), item)
            if item is not None:
                out[key] = item
    return out


def _json_key(key: Any, convert: Callable[[Any], Any] | None) -> str:
    key = _apply(convert, key)
    return key if isinstance(key, str) else dumps_json(key)


def _decimal_value(value: decimal.Decimal) -> float | str:
    # A float is given when it prints as the same number (12.50 -> 12.5, 0.1 -> 0.1); decimals
    # beyond double precision stay exact as text.
    as_float = float(value)
    if math.isfinite(as_float) and decimal.Decimal(repr(as_float)) == value:
        return as_float
    return str(value)
