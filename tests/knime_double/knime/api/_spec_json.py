"""JSON form of table specs as KNIME exchanges them (used by ``Schema.serialize/deserialize``).

KNIME's Java side expects a leading RowKey column and every primitive column wrapped in the
logical type of its Java value factory; lists of primitives use the typed list factories.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Tuple

from knime.api import schema as ks


def _factory(name: str) -> str:
    return '{"value_factory_class":"org.knime.core.data.v2.value.' + name + '"}'


_ROW_KEY = _factory("DefaultRowKeyValueFactory")
_GENERIC_LIST = _factory("ListValueFactory")
_STORAGE_NAMES = {
    ks.int32(): "int", ks.int64(): "long", ks.string(): "string", ks.bool_(): "boolean",
    ks.double(): "double", ks.blob(): "variable_width_binary", ks.null(): "void",
}
_TYPES_BY_STORAGE_NAME = {v: k for k, v in _STORAGE_NAMES.items()}
_PRIMITIVE_FACTORIES = {
    ks.int32(): _factory("IntValueFactory"), ks.int64(): _factory("LongValueFactory"),
    ks.string(): _factory("StringValueFactory"), ks.bool_(): _factory("BooleanValueFactory"),
    ks.double(): _factory("DoubleValueFactory"), ks.null(): _factory("VoidValueFactory"),
    ks.list_(ks.int32()): _factory("IntListValueFactory"),
    ks.list_(ks.int64()): _factory("LongListValueFactory"),
    ks.list_(ks.string()): _factory("StringListValueFactory"),
    ks.list_(ks.bool_()): _factory("BooleanListValueFactory"),
    ks.list_(ks.double()): _factory("DoubleListValueFactory"),
}
_TYPES_BY_FACTORY = {v: k for k, v in _PRIMITIVE_FACTORIES.items()}


def _wrap(ktype: ks.KnimeType) -> ks.KnimeType:
    if ktype in _PRIMITIVE_FACTORIES:
        return ks.LogicalType(_PRIMITIVE_FACTORIES[ktype], ktype)
    if isinstance(ktype, ks.ListType):
        return ks.LogicalType(_GENERIC_LIST, ks.list_(_wrap(ktype.inner_type)))
    return ktype


def _unwrap(ktype: ks.KnimeType) -> ks.KnimeType:
    if isinstance(ktype, ks.LogicalType):
        if ktype.logical_type in _TYPES_BY_FACTORY:
            return _TYPES_BY_FACTORY[ktype.logical_type]
        if ktype.logical_type == _GENERIC_LIST and isinstance(ktype.storage_type, ks.ListType):
            return ks.list_(_unwrap(ktype.storage_type.inner_type))
    return ktype


def _type_to_json(ktype: ks.KnimeType) -> Tuple[Any, Dict[str, Any]]:
    traits: Dict[str, Any] = {"traits": {}}
    if isinstance(ktype, ks.LogicalType):
        traits["traits"] = {"logical_type": ktype.logical_type}
        ktype = ktype.storage_type
    if isinstance(ktype, ks.ListType):
        inner_spec, inner_traits = _type_to_json(ktype.inner_type)
        traits.update(type="list", inner=inner_traits)
        return {"type": "list", "inner_type": inner_spec}, traits
    if isinstance(ktype, ks.StructType):
        pairs = [_type_to_json(t) for t in ktype.inner_types]
        traits.update(type="struct", inner=[t for _, t in pairs])
        return {"type": "struct", "inner_types": [s for s, _ in pairs]}, traits
    if ktype not in _STORAGE_NAMES:
        raise KeyError(f"Cannot serialise column type {ktype}")
    traits["type"] = "simple"
    return _STORAGE_NAMES[ktype], traits


def _type_from_json(spec: Any, traits: Dict[str, Any]) -> ks.KnimeType:
    kind = traits["type"]
    if kind == "simple":
        storage: ks.KnimeType = _TYPES_BY_STORAGE_NAME[spec]
    elif kind == "list":
        storage = ks.list_(_type_from_json(spec["inner_type"], traits["inner"]))
    elif kind == "struct":
        storage = ks.struct(*(_type_from_json(s, t)
                              for s, t in zip(spec["inner_types"], traits["inner"])))
    else:
        raise ValueError(f"Unknown type kind {kind!r} in table spec")
    logical = traits.get("traits", {}).get("logical_type")
    return ks.LogicalType(logical, storage) if logical else storage


def schema_to_dict(schema: "ks.Schema") -> dict:
    """Serialise ``schema`` in KNIME's DataTableSpec JSON form."""
    columns = [ks.Column(ks.LogicalType(_ROW_KEY, ks.string()), "RowKey")]
    columns += [ks.Column(_wrap(c.ktype), c.name, c.metadata) for c in schema]
    pairs = [_type_to_json(c.ktype) for c in columns]
    return {
        "schema": {"specs": [s for s, _ in pairs], "traits": [t for _, t in pairs]},
        "columnNames": [c.name for c in columns],
        "columnMetaData": [c.metadata for c in columns],
    }


def schema_from_dict(cls: type, data: dict) -> "ks.Schema":
    """Inverse of ``schema_to_dict``; a leading RowKey column is dropped."""
    ktypes = [_type_from_json(s, t)
              for s, t in zip(data["schema"]["specs"], data["schema"]["traits"])]
    names = list(data["columnNames"])
    metadata = list(data["columnMetaData"])
    if ktypes and ktypes[0] == ks.LogicalType(_ROW_KEY, ks.string()):
        ktypes, names, metadata = ktypes[1:], names[1:], metadata[1:]
    else:
        logging.getLogger(__name__).warning(
            "Did not find RowKey column when creating Schema from KNIME dict")
    return cls([_unwrap(t) for t in ktypes], names, metadata)
