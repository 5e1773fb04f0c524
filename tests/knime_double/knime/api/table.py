"""Test double of ``knime.api.table``: ``Table`` and ``BatchOutputTable`` as KNIME's Arrow backend
behaves during execute (RowIDs as a leading ``<RowID>`` string column, KNIME's type rules).

Input tables hold KNIME's column types as KNIME sends them (see ``_extension_type``): ``schema``
shows Date&Time, JSON and the like as ``LogicalType``s and ``to_pyarrow()`` keeps them in their
Arrow extension type, while numbers, strings, booleans and lists of them come out plain.

Differences kept on purpose: ``sentinel`` is not supported (raises ``NotImplementedError``);
KNIME's Java side takes the batches of a ``BatchOutputTable`` only when they share one schema and
every batch but the last has the first batch's row count: the double checks both at ``append``
(so does the harness's stand-in for the Java sink when the real package runs).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Iterator, List, Optional, Tuple

from knime.api import _arrow_convert as conv
from knime.api import schema as ks


def _no_sentinel(sentinel: Any) -> None:
    if sentinel is not None:
        raise NotImplementedError("The knime.extension test double does not support sentinels")


class _Tabular(ks._Columnar):
    """Common interface of tables and table views."""

    @property
    @abstractmethod
    def num_rows(self) -> int:
        """Number of rows."""

    @property
    def shape(self) -> Tuple[int, int]:
        """``(num_columns, num_rows)`` -- KNIME's order, not pandas'."""
        return (self.num_columns, self.num_rows)

    def _view(self, operation: Any) -> "_TabularView":
        return _TabularView(self, operation)

    def __getitem__(self, selection: Any) -> "_TabularView":
        if isinstance(selection, tuple):
            columns, rows = selection
            return self._view(lambda t: t._select_columns(columns)._select_rows(rows))
        return super().__getitem__(selection)


class _TabularView(_Tabular, ks._ColumnarView):
    """Lazy slice of a table; ``get()`` materialises it (KNIME's node wrapper does that too)."""

    @property
    def num_rows(self) -> int:
        return self.get().num_rows

    def to_pandas(self, sentinel: Any = None) -> Any:
        """See ``Table.to_pandas``."""
        return self.get().to_pandas(sentinel)

    def to_pyarrow(self, sentinel: Any = None) -> Any:
        """See ``Table.to_pyarrow``."""
        return self.get().to_pyarrow(sentinel)

    @property
    def schema(self) -> ks.Schema:
        return self.get().schema


class Table(_Tabular):
    """A KNIME table; create it with ``from_pandas``/``from_pyarrow`` (not directly)."""

    @staticmethod
    def from_pandas(data: Any, sentinel: Any = None, row_ids: str = "auto") -> "Table":
        """Table from a DataFrame; the index becomes the RowIDs.

        Args:
            data: the DataFrame.
            sentinel: unsupported by the double (must be None).
            row_ids: ``"keep"`` (index as str), ``"generate"`` (``Row0``...), ``"auto"``
                (integer index ``n`` -> ``Row<n>``, other indexes kept).

        Raises:
            ValueError: not a DataFrame, bad ``row_ids``, duplicate or unsupported columns.
        """
        _no_sentinel(sentinel)
        return _ArrowTable(conv.from_pandas(data, row_ids))

    @staticmethod
    def from_pyarrow(data: Any, sentinel: Any = None, row_ids: str = "auto") -> "Table":
        """Table from a pyarrow Table/RecordBatch.

        ``"keep"`` uses the first (string) column as RowID, ``"generate"`` makes ``Row0``...,
        ``"auto"`` uses a first column named ``<RowID>`` (string as is, integer ``n`` ->
        ``Row<n>``) and generates RowIDs otherwise.
        """
        _no_sentinel(sentinel)
        return _ArrowTable(conv.from_pyarrow(data, row_ids))

    @abstractmethod
    def to_pandas(self, sentinel: Any = None) -> Any:
        """DataFrame whose index holds the RowIDs."""

    @abstractmethod
    def to_pyarrow(self, sentinel: Any = None) -> Any:
        """pyarrow Table whose first column ``<RowID>`` holds the RowIDs."""

    @property
    @abstractmethod
    def schema(self) -> ks.Schema:
        """Column types and names (RowID excluded)."""

    @abstractmethod
    def _select_rows(self, selection: Any) -> "Table": ...

    def batches(self) -> Iterator["Table"]:
        """Iterate over batches; only tables handed to ``execute`` by KNIME support it.

        Raises:
            RuntimeError: for tables created in Python.
        """
        raise RuntimeError("Retrieving batches is only allowed for unmodified tables, "
                           "as they are passed to execute()")

    def to_batches(self) -> Iterator["Table"]:
        """Alias of ``batches()``."""
        return self.batches()


class _ArrowTable(Table):
    """Concrete table over a RowID-first ``pyarrow.Table``."""

    def __init__(self, data: Any) -> None:
        self._data = data

    def to_pandas(self, sentinel: Any = None) -> Any:
        _no_sentinel(sentinel)
        self._check_reserved()
        return conv.to_pandas(self._data)

    def to_pyarrow(self, sentinel: Any = None) -> Any:
        _no_sentinel(sentinel)
        self._check_reserved()
        return self._data

    def _check_reserved(self) -> None:
        if conv.ROW_ID in self.column_names:
            raise RuntimeError(f"The column name '{conv.ROW_ID}' is reserved for the RowID")

    @property
    def num_rows(self) -> int:
        return self._data.num_rows

    @property
    def num_columns(self) -> int:
        return self._data.num_columns - 1

    @property
    def column_names(self) -> List[str]:
        return self._data.schema.names[1:]

    @property
    def schema(self) -> ks.Schema:
        return conv.knime_schema(self._data)

    def _select_columns(self, selection: Any) -> "_ArrowTable":
        names = self.column_names
        if isinstance(selection, (int, str)):
            selection = [selection]
        if isinstance(selection, slice):
            picked = names[selection]
        elif isinstance(selection, list):
            picked = []
            for s in selection:
                if isinstance(s, int) and -len(names) <= s < len(names):
                    picked.append(names[s])
                elif isinstance(s, str) and s in names:
                    picked.append(s)
                else:
                    raise IndexError(f"Invalid column selection {s!r}; columns are {names}")
        else:
            raise TypeError(f"Tables cannot be indexed by {type(selection)}")
        return _ArrowTable(self._data.select([0] + [names.index(p) + 1 for p in picked]))

    def _select_rows(self, selection: Any) -> "_ArrowTable":
        if not isinstance(selection, slice):
            raise TypeError("Rows can only be selected with a slice")
        start, stop, step = selection.indices(self.num_rows)
        if step != 1:
            raise ValueError("Row slices with a step are not supported")
        return _ArrowTable(self._data.slice(start, max(0, stop - start)))

    def _append(self, other: Any) -> "Table":
        raise NotImplementedError("append/insert for Arrow tables is not yet implemented")

    def __str__(self) -> str:
        return f"ArrowTable[shape={self.shape}]"


class _SourceTable(_ArrowTable):
    """A table as KNIME passes it into ``execute``: it supports ``batches()``."""

    def __init__(self, data: Any, batch_size: int) -> None:
        super().__init__(data)
        self._batch_size = batch_size

    @property
    def num_batches(self) -> int:
        """Number of batches ``batches()`` yields."""
        return max(1, -(-self.num_rows // self._batch_size))

    def batches(self) -> Iterator[Table]:
        # KNIME's batches wrap a pyarrow.RecordBatch, so their to_pyarrow() returns a RecordBatch.
        import pyarrow as pa

        for i in range(self.num_batches):
            part = self._data.slice(i * self._batch_size, self._batch_size)
            yield _ArrowTable(part.combine_chunks().to_batches()[0] if part.num_rows
                              else pa.RecordBatch.from_pylist([], schema=part.schema))


def _input_table(data: Any, batch_size: Optional[int] = None) -> Table:
    """Double-only: ``data`` (DataFrame, Arrow table or Table) as a KNIME input table."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        data = Table.from_pandas(data)
    elif not isinstance(data, Table):
        data = Table.from_pyarrow(data)
    arrow = data.to_pyarrow()
    return _SourceTable(arrow, batch_size or max(1, arrow.num_rows))


class BatchOutputTable:
    """Output table assembled from batches; create it with ``create``/``from_batches``."""

    def __init__(self) -> None:
        raise RuntimeError(
            "Do not use this constructor directly, use the create or from_batches methods instead"
        )

    @staticmethod
    def create(row_ids: str = "keep") -> "BatchOutputTable":
        """Empty output table; ``row_ids`` is ``"keep"`` (index / first string column) or
        ``"generate"`` (``Row0``... numbered across batches).

        Raises:
            ValueError: any other ``row_ids``.
        """
        return _ArrowBatchOutputTable(row_ids)

    @staticmethod
    def from_batches(generator: Any, row_ids: str = "generate") -> "BatchOutputTable":
        """Output table holding every batch ``generator`` yields."""
        out = BatchOutputTable.create(row_ids)
        for batch in generator:
            out.append(batch)
        return out

    @abstractmethod
    def append(self, batch: Any) -> None:
        """Append a ``Table``, DataFrame, pyarrow Table or RecordBatch."""

    @property
    @abstractmethod
    def num_batches(self) -> int:
        """Number of batches appended so far."""


class _ArrowBatchOutputTable(BatchOutputTable):
    """Concrete batch output; batches are kept in memory."""

    def __init__(self, row_ids: str) -> None:
        if row_ids not in ("keep", "generate"):
            raise ValueError('row_ids must be one of ["keep", "generate"]')
        self._row_ids = row_ids
        self._batches: List[Any] = []
        self._num_rows = 0

    def append(self, batch: Any) -> None:
        import pandas as pd
        import pyarrow as pa

        if isinstance(batch, (pa.Table, pa.RecordBatch)):
            data = conv.from_pyarrow(batch, self._row_ids, self._num_rows)
        elif isinstance(batch, _ArrowTable):
            data = batch.to_pyarrow()
            if self._row_ids == "generate":
                data = conv.from_pyarrow(data.drop_columns([data.schema.names[0]]),
                                         "generate", self._num_rows)
        elif isinstance(batch, pd.DataFrame):
            data = conv.from_pandas(batch, self._row_ids, self._num_rows, ("keep", "generate"))
        else:
            raise TypeError(
                "Can only append batches of type knime.api.Table, pyarrow.Table, "
                f"pyarrow.RecordBatch, pandas.DataFrame but got {type(batch)}"
            )
        if self._batches:
            first = self._batches[0]
            if data.schema.remove(0) != first.schema.remove(0):
                raise ValueError(
                    "All batches must have the same column names and types; first batch has "
                    f"{first.schema.remove(0)}, this one {data.schema.remove(0)}"
                )
            if self._batches[-1].num_rows < first.num_rows or data.num_rows > first.num_rows:
                raise ValueError(
                    f"Every batch but the last must have the first batch's {first.num_rows} rows; "
                    f"got batches of {[b.num_rows for b in self._batches] + [data.num_rows]} rows"
                )
        self._batches.append(data)
        self._num_rows += data.num_rows

    @property
    def num_batches(self) -> int:
        return len(self._batches)

    def _combined(self) -> Table:
        """Double-only: the batches as one table (what KNIME assembles from them)."""
        import pyarrow as pa

        if not self._batches:
            import pandas as pd

            return Table.from_pandas(pd.DataFrame())
        return _ArrowTable(pa.concat_tables(self._batches))
