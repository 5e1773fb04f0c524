"""pandas/pyarrow <-> KNIME table conversion for the table double, mirroring KNIME's Arrow backend.

A table is held as a ``pyarrow.Table`` whose first column is the RowID. Tables written from Python
may hold the column types KNIME's Python integration accepts without JVM-registered value
factories, plus KNIME's own ``knime.logical_type`` columns passed through from an input; anything
else raises ``ValueError`` as the real backend does (float32 widens to double, categoricals decode).
"""

from __future__ import annotations

from typing import Any, List

from knime.api import _extension_type as ext
from knime.api import schema as ks

ROW_ID = "<RowID>"
ROW_ID_MODES_TABLE = ("auto", "keep", "generate")


def _pa() -> Any:
    import pyarrow

    return pyarrow


def _check_mode(row_ids: str, allowed: tuple) -> None:
    if row_ids not in allowed:
        raise ValueError(f"row_ids must be one of {list(allowed)}, got {row_ids!r}")


def _generated_ids(n: int, first: int) -> List[str]:
    return [f"Row{first + i}" for i in range(n)]


def _simple_types() -> dict:
    pa = _pa()
    return {pa.int32(): ks.int32(), pa.int64(): ks.int64(), pa.float64(): ks.double(),
            pa.string(): ks.string(), pa.bool_(): ks.bool_(), pa.null(): ks.null()}


def _knime_type(pa_type: Any) -> ks.KnimeType:
    """KNIME type of an Arrow type of KNIME data: primitive value factories show as their plain
    type, a generic list as a list, every other value factory as a ``LogicalType``.

    Raises:
        ValueError: a type KNIME tables cannot hold.
    """
    pa = _pa()
    if isinstance(pa_type, ext.LogicalTypeExtensionType):
        factory = ext.value_factory(pa_type)
        if factory == ext.VOID:
            return ks.null()
        if factory == ext.GENERIC_LIST or factory in ext._PRIMITIVE:
            return _knime_type(pa_type.storage_type)
        return ks.LogicalType(pa_type.logical_type, _knime_type(pa_type.storage_type))
    simple = {**_simple_types(), pa.large_binary(): ks.blob()}
    if pa_type in simple:
        return simple[pa_type]
    if pa.types.is_list(pa_type) or pa.types.is_large_list(pa_type):
        return ks.list_(_knime_type(pa_type.value_type))
    if pa.types.is_struct(pa_type):
        return ks.struct(*(_knime_type(pa_type.field(i).type) for i in range(pa_type.num_fields)))
    raise ValueError(f"Data type '{pa_type}' is not supported in KNIME tables")


def _is_simple(pa_type: Any) -> bool:
    # extension types are not hashable, so they cannot be looked up in the dict
    return not isinstance(pa_type, _pa().ExtensionType) and pa_type in _simple_types()


def _writable(pa_type: Any) -> bool:
    """Types KNIME's backend writes from Python: primitives, lists of them, KNIME's own types."""
    return (_is_simple(pa_type) or isinstance(pa_type, ext.LogicalTypeExtensionType)
            or _pa().types.is_list(pa_type) and _is_simple(pa_type.value_type))


def _normalise_column(column: Any, name: str) -> Any:
    """Apply the widening KNIME does (float32 -> double, categorical -> values) and check type."""
    pa = _pa()
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = column.cast(t.value_type), t.value_type
    if t == pa.float32():
        column, t = column.cast(pa.float64()), pa.float64()
    if pa.types.is_list(t) and t.value_type == pa.float32():
        t = pa.list_(pa.float64())
        column = column.cast(t)
    if not _writable(t):
        raise ValueError(
            f"Data type '{t}' in column '{name}' is not supported in KNIME tables; "
            "convert it to int32/int64/double/string/bool or a list of those first."
        )
    return column


def _check_constant_chunks(data: Any) -> None:
    pa = _pa()
    if isinstance(data, pa.Table) and len(data) > 0:
        sizes = [len(b) for b in data.to_batches()]
        if any(s != sizes[0] for s in sizes[:-1]) or sizes[-1] > sizes[0]:
            raise ValueError(
                f"All batches of the table must have the same size (last may be smaller), "
                f"got batch sizes {sizes}"
            )


def finish(data: Any) -> Any:
    """Check/widen the column types of a RowID-first Arrow table; return it as one table.

    Duplicate names are not checked here: KNIME only rejects them for DataFrames.
    """
    pa = _pa()
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    names = data.schema.names
    columns = [_unwrapped(data.column(0))] + [
        _normalise_column(_unwrapped(data.column(i)), names[i]) for i in range(1, len(names))
    ]
    return pa.Table.from_arrays(columns, names=names).combine_chunks()


def _unwrapped(column: Any) -> Any:
    """A column with KNIME's primitive value-factory wrapping removed (as data from Java has it)."""
    pa = _pa()
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array([ext.unwrap_primitives(c) for c in column.chunks]) if column.num_chunks \
            else column
    return ext.unwrap_primitives(column)


def from_pyarrow(data: Any, row_ids: str = "auto", first_row_id: int = 0) -> Any:
    """RowID-first Arrow table from a user Arrow table, following KNIME's ``row_ids`` rules."""
    pa = _pa()
    _check_mode(row_ids, ROW_ID_MODES_TABLE)
    _check_constant_chunks(data)
    if data.num_columns and isinstance(data.schema[0].type, ext.LogicalTypeExtensionType):
        data = data.set_column(0, data.schema[0].name, _unwrapped(data.column(0)))  # a RowKey from KNIME
    first = data.schema[0] if data.num_columns else None
    if row_ids == "auto" and first is not None and first.name == ROW_ID:
        if pa.types.is_string(first.type):
            return finish(data)
        if pa.types.is_integer(first.type):
            ids = pa.array([f"Row{v}" for v in data.column(0).to_pylist()], pa.string())
            return finish(data.set_column(0, ROW_ID, ids))
    if row_ids == "keep":
        if first is None or not pa.types.is_string(first.type):
            raise TypeError("The first column must contain unique row identifiers of type 'string'")
        return finish(data)
    ids = pa.array(_generated_ids(data.num_rows, first_row_id), pa.string())
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    return finish(data.add_column(0, ROW_ID, ids))


def from_pandas(df: Any, row_ids: str = "auto", first_row_id: int = 0,
                modes: tuple = ROW_ID_MODES_TABLE) -> Any:
    """RowID-first Arrow table from a DataFrame: index -> RowID per KNIME's ``row_ids`` rules."""
    import pandas as pd

    pa = _pa()
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"Table.from_pandas expects a pandas.DataFrame, but got {type(df)}")
    _check_mode(row_ids, modes)
    if df.shape == (0, 0):
        return pa.table({ROW_ID: pa.array([], pa.string())})
    frame = df.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    names = [ROW_ID] + list(frame.columns)
    if len(names) != len(set(names)):  # KNIME's Arrow conversion sees the RowID column too
        raise ValueError(f"Duplicate column names found: {names}")
    if row_ids == "generate":
        ids = _generated_ids(len(frame), first_row_id)
    elif row_ids == "auto" and frame.index.dtype.kind in "iu":
        ids = [f"Row{i}" for i in frame.index]
    else:
        ids = [str(i) for i in frame.index]
    body = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    table = body.add_column(0, ROW_ID, pa.array(ids, pa.string()))
    return finish(table)


def to_pandas(data: Any) -> Any:
    """DataFrame with the RowIDs as (string) index named ``<RowID>``, strings as ``StringDtype``."""
    import pandas as pd

    pa = _pa()
    frame = data.to_pandas(types_mapper=lambda t: pd.StringDtype() if t == pa.string() else None)
    return frame.set_index(frame.columns[0])


def knime_schema(data: Any) -> ks.Schema:
    """KNIME schema of a RowID-first Arrow table (RowID column excluded)."""
    fields = list(data.schema)[1:]
    return ks.Schema.from_columns([ks.Column(_knime_type(f.type), f.name) for f in fields])
