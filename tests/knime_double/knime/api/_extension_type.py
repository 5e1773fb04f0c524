"""KNIME's Arrow extension type for value-factory ("logical") types, as the double's backend sees it.

KNIME sends a Python node every column as Arrow data whose type is ``knime.logical_type``: the
serialized form is the JSON naming the Java value factory, the storage is that factory's layout
(a Local Date is ``int64`` days since 1970, a Zoned Date Time the struct ``{"0": days, "1":
nanoseconds of the day, "2": offset seconds, "3": zone id}``, a JSON cell ``{"0": file-store key,
"1": 8 length bytes + UTF-8 text}``). ``Table.to_pyarrow()`` unwraps the primitive ones (numbers,
strings, booleans, lists of them) and leaves every other column in this type.

Registering the type with pyarrow makes Arrow IPC data written with that extension name come
back as it does in KNIME (the real backend registers its own class under the same name).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

EXTENSION_NAME = "knime.logical_type"
_VALUE = "org.knime.core.data.v2.value."
_PRIMITIVE = {_VALUE + name for name in (
    "IntValueFactory", "LongValueFactory", "DoubleValueFactory", "StringValueFactory",
    "BooleanValueFactory", "VoidValueFactory", "DefaultRowKeyValueFactory", "IntListValueFactory",
    "LongListValueFactory", "DoubleListValueFactory", "StringListValueFactory",
    "BooleanListValueFactory")}
GENERIC_LIST = _VALUE + "ListValueFactory"
VOID = _VALUE + "VoidValueFactory"


class LogicalTypeExtensionType(pa.ExtensionType):
    """A KNIME value-factory type over its storage type."""

    def __init__(self, storage_type: pa.DataType, logical_type: str) -> None:
        self.logical_type = logical_type
        super().__init__(storage_type, EXTENSION_NAME)

    def __arrow_ext_serialize__(self) -> bytes:
        return self.logical_type.encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> "LogicalTypeExtensionType":
        return cls(storage_type, serialized.decode())


pa.register_extension_type(LogicalTypeExtensionType(pa.null(), ""))


def value_factory(ext_type: Any) -> str:
    """The Java value factory class an extension type names ("" for other types)."""
    if not isinstance(ext_type, LogicalTypeExtensionType):
        return ""
    try:
        return str(json.loads(ext_type.logical_type).get("value_factory_class", ""))
    except (ValueError, AttributeError):
        return ""


def unwrap_primitives(array: Any) -> Any:
    """What ``to_pyarrow()`` does to a column: primitive value-factory types become their storage
    (a generic list only when its elements are primitive), void columns nulls, the rest stays."""
    factory = value_factory(array.type)
    if factory == VOID:
        return pa.nulls(len(array))
    if factory in _PRIMITIVE:
        return array.storage
    if factory == GENERIC_LIST and value_factory(array.type.storage_type.value_type) in _PRIMITIVE:
        storage = array.storage
        values = unwrap_primitives(storage.values)
        return pa.ListArray.from_arrays(storage.offsets, values, mask=storage.is_null())
    return array
