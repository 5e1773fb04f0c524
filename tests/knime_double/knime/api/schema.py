"""Test double of ``knime.api.schema``: column types, ``Column``, ``Schema``, ``PortObjectSpec``.

Written from the behaviour described in /work/shared/notes/knime-api.md and observed against the
real module at KNIME 5.5. Only what pure-Python nodes need is here: primitive, list, struct and
logical (value-factory) types, lazy column views, and the JSON form KNIME exchanges for table
specs (a RowKey column first, primitive types wrapped in KNIME's value-factory logical types).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum, unique
from typing import Any, Dict, Iterator, List, Optional, Sequence

from knime.api._columnar import _Columnar, _ColumnarView, _materialise


class KnimeType:
    """Base class of all KNIME column types; not instantiable on its own."""

    def __init__(self) -> None:
        if type(self) is KnimeType:
            raise TypeError("KnimeType is abstract; use int64(), string(), list_(...) etc.")

    def __repr__(self) -> str:
        return str(self)


@unique
class PrimitiveTypeId(Enum):
    """Primitive KNIME types; the values are the names KNIME 5.5 shows (5.6 renamed all but String)."""

    INT = "Number (integer)"
    LONG = "Number (long)"
    STRING = "String"
    DOUBLE = "Number (double)"
    BOOL = "Boolean value"
    BLOB = "blob"
    NULL = "null"


class PrimitiveType(KnimeType):
    """A primitive type; one shared instance per type id, so ``int64() is int64()``."""

    _instances: Dict[PrimitiveTypeId, "PrimitiveType"] = {}

    def __new__(cls, type_id: PrimitiveTypeId) -> "PrimitiveType":
        if not isinstance(type_id, PrimitiveTypeId):
            raise TypeError(f"PrimitiveType needs a PrimitiveTypeId, got {type_id!r}")
        if type_id not in cls._instances:
            instance = super().__new__(cls)
            instance._type_id = type_id
            cls._instances[type_id] = instance
        return cls._instances[type_id]

    def __init__(self, type_id: PrimitiveTypeId) -> None:  # state set once in __new__
        pass

    def __str__(self) -> str:
        return self._type_id.value


class ListType(KnimeType):
    """A list (collection) column type with one inner type."""

    def __init__(self, inner_type: KnimeType) -> None:
        if not isinstance(inner_type, KnimeType):
            raise TypeError(f"List inner type must be a KnimeType, got {inner_type!r}")
        self._inner_type = inner_type

    @property
    def inner_type(self) -> KnimeType:
        """The element type."""
        return self._inner_type

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._inner_type == other._inner_type

    def __hash__(self) -> int:
        return hash(str(self))

    def __str__(self) -> str:
        return f"List (Collection of: {self._inner_type})"


class StructType(KnimeType):
    """A struct column type with positional fields."""

    def __init__(self, inner_types: Sequence[KnimeType]) -> None:
        inner_types = tuple(inner_types)
        for t in inner_types:
            if not isinstance(t, KnimeType):
                raise TypeError(f"Struct field types must be KnimeTypes, got {t!r}")
        self._inner_types = inner_types

    @property
    def inner_types(self) -> Sequence[KnimeType]:
        """The field types, in order."""
        return self._inner_types

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._inner_types == other._inner_types

    def __hash__(self) -> int:
        return hash(str(self))

    def __str__(self) -> str:
        return f"struct<{', '.join(str(t) for t in self._inner_types)}>"


class LogicalType(KnimeType):
    """A KNIME value-factory type (JSON string) stored as ``storage_type``."""

    def __init__(self, logical_type: str, storage_type: KnimeType) -> None:
        self._logical_type = logical_type
        self._storage_type = storage_type

    @property
    def logical_type(self) -> str:
        """The JSON description of the Java value factory."""
        return self._logical_type

    @property
    def storage_type(self) -> KnimeType:
        """The physical type the values are stored as."""
        return self._storage_type

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.logical_type == self.logical_type
            and other.storage_type == self.storage_type
        )

    def __hash__(self) -> int:
        return hash(str(self))

    def __str__(self) -> str:
        return f"extension<logical={self._logical_type}, storage={self._storage_type}>"


def int32() -> PrimitiveType:
    """KNIME 32-bit integer type."""
    return PrimitiveType(PrimitiveTypeId.INT)


def int64() -> PrimitiveType:
    """KNIME 64-bit integer type."""
    return PrimitiveType(PrimitiveTypeId.LONG)


def double() -> PrimitiveType:
    """KNIME double precision float type."""
    return PrimitiveType(PrimitiveTypeId.DOUBLE)


def bool_() -> PrimitiveType:
    """KNIME boolean type."""
    return PrimitiveType(PrimitiveTypeId.BOOL)


def string() -> PrimitiveType:
    """KNIME string type (dictionary encoding is not modelled by the double)."""
    return PrimitiveType(PrimitiveTypeId.STRING)


def blob() -> PrimitiveType:
    """KNIME binary blob type."""
    return PrimitiveType(PrimitiveTypeId.BLOB)


def null() -> PrimitiveType:
    """KNIME void type (a column holding only missing values)."""
    return PrimitiveType(PrimitiveTypeId.NULL)


def list_(inner_type: KnimeType) -> ListType:
    """List type of ``inner_type``."""
    return ListType(inner_type)


def struct(*inner_types: KnimeType) -> StructType:
    """Struct type with the given field types."""
    return StructType(inner_types)


def logical(value_type: Any) -> LogicalType:
    """Logical type of a Python value type.

    Raises:
        TypeError: always: value factories are registered by KNIME's JVM, which a test lacks
            (the real module raises the same outside KNIME).
    """
    raise TypeError(
        f"No KNIME extension type is registered for Python type {value_type!r} "
        "(value factories come from the KNIME JVM and are not available in tests)."
    )


class PortObjectSpec(ABC):
    """Base of port object specs; ``serialize`` must give a JSON-serialisable dict."""

    @abstractmethod
    def serialize(self) -> dict:
        """Return a JSON-serialisable dict describing this spec."""

    @classmethod
    @abstractmethod
    def deserialize(cls, data: dict, java_callback: Any = None) -> "PortObjectSpec":
        """Rebuild the spec from ``serialize``'s dict (subclasses may omit ``java_callback``)."""


class Column:
    """A named, typed column with optional metadata."""

    def __init__(self, ktype: KnimeType, name: str, metadata: Optional[dict] = None) -> None:
        if not isinstance(ktype, KnimeType):
            ktype = logical(ktype)
        if not isinstance(name, str):
            raise TypeError(f"Column name must be a str, got {type(name)}")
        if name.strip() == "":
            raise ValueError("Column name may not be empty")
        self.ktype = ktype
        self.name = name
        self.metadata = metadata

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Column)
            and self.ktype == other.ktype
            and self.name == other.name
            and self.metadata == other.metadata
        )

    def __str__(self) -> str:
        meta = "" if self.metadata is None else f", {self.metadata}"
        return f"Column<'{self.name}', {self.ktype}{meta}>"

    __repr__ = __str__


class Schema(_Columnar, PortObjectSpec):
    """Column types, names and metadata of a table; the spec of table ports."""

    def __init__(self, ktypes: Sequence[KnimeType], names: Sequence[str],
                 metadata: Optional[Sequence[Optional[dict]]] = None) -> None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise TypeError("Schema names must be a list or tuple of str")
        if len(ktypes) != len(names):
            raise ValueError(f"{len(ktypes)} types but {len(names)} names")
        if metadata is None:
            metadata = [None] * len(names)
        elif len(metadata) != len(names):
            raise ValueError(f"{len(metadata)} metadata entries but {len(names)} names")
        self._columns = [Column(t, n, m) for t, n, m in zip(ktypes, names, metadata)]

    @classmethod
    def from_columns(cls, columns: Any) -> "Schema":
        """Build a schema from one ``Column`` or an iterable of them."""
        if isinstance(columns, Column):
            columns = [columns]
        try:
            columns = list(columns)
        except TypeError:
            raise TypeError(f"Columns must be iterable, got {type(columns)}") from None
        for c in columns:
            if not isinstance(c, Column):
                raise TypeError(f"A schema is built from Columns, not {type(c)}")
        return cls([c.ktype for c in columns], [c.name for c in columns],
                   [c.metadata for c in columns])

    @classmethod
    def from_types(cls, ktypes: Sequence[KnimeType], names: Sequence[str],
                   metadata: Optional[Sequence[Optional[dict]]] = None) -> "Schema":
        """Build a schema from parallel lists of types, names and metadata."""
        return cls(ktypes, names, metadata)

    @property
    def column_names(self) -> List[str]:
        return [c.name for c in self._columns]

    @property
    def num_columns(self) -> int:
        return len(self._columns)

    def __iter__(self) -> Iterator[Column]:
        return iter(list(self._columns))

    def __contains__(self, key: object) -> bool:
        if isinstance(key, Column):
            key = key.name
        return isinstance(key, str) and key in self.column_names

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._columns == other._columns

    def __str__(self) -> str:
        return "Schema<\n\t" + ",\n\t".join(str(c) for c in self._columns) + ">"

    __repr__ = __str__

    def _select_columns(self, selection: Any) -> Any:
        if isinstance(selection, int):
            return self._columns[selection]
        if isinstance(selection, str):
            for c in self._columns:
                if c.name == selection:
                    return c
            raise IndexError(f"Schema has no column named '{selection}'")
        if isinstance(selection, slice):
            return Schema.from_columns(self._columns[selection])
        if isinstance(selection, list):
            picked = []
            for s in selection:
                if isinstance(s, str) and s in self.column_names:
                    picked.append(self._columns[self.column_names.index(s)])
                elif isinstance(s, int) and 0 <= s < len(self._columns):
                    picked.append(self._columns[s])
                else:
                    raise IndexError(f"Invalid column selection {s!r}")
            return Schema.from_columns(picked)
        raise TypeError(f"Schema cannot be indexed by {type(selection)}")

    def _append(self, other: Any) -> "Schema":
        if isinstance(other, Schema):
            added = list(other)
        elif isinstance(other, Column):
            added = [other]
        elif isinstance(other, Sequence):
            added = list(Schema.from_columns(other))
        else:
            raise TypeError(f"Can only append columns or schemas, not {type(other)}")
        return Schema.from_columns(self._columns + added)

    def serialize(self) -> dict:
        """JSON form KNIME exchanges (RowKey column first, primitives as logical types).

        Raises:
            RuntimeError: if two columns share a name (KNIME rejects such specs).
        """
        from knime.api import _spec_json

        names = self.column_names
        if len(names) != len(set(names)):
            raise RuntimeError(f"Duplicate column names in schema: {names}")
        return _spec_json.schema_to_dict(self)

    @classmethod
    def deserialize(cls, data: dict, java_callback: Any = None) -> "Schema":
        """Rebuild a schema from ``serialize``'s dict (dropping KNIME's RowKey column)."""
        from knime.api import _spec_json

        return _spec_json.schema_from_dict(cls, data)
