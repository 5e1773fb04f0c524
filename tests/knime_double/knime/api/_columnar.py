"""Lazy column operations shared by ``Schema`` and tables (``knime.api.schema`` double).

Like KNIME, slicing/appending/removing returns a view; ``get()`` computes the concrete schema,
column or table, and attribute access on the view is forwarded to that result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator, List


class _Columnar(ABC):
    """Shared column operations of ``Schema`` and tables; they return lazy views like KNIME's."""

    @property
    @abstractmethod
    def num_columns(self) -> int:
        """Number of columns."""

    @property
    @abstractmethod
    def column_names(self) -> List[str]:
        """Column names in order."""

    @abstractmethod
    def _select_columns(self, selection: Any) -> Any: ...

    @abstractmethod
    def _append(self, other: Any) -> Any: ...

    def _view(self, operation: Callable[[Any], Any]) -> "_ColumnarView":
        return _ColumnarView(self, operation)

    def __getitem__(self, selection: Any) -> "_ColumnarView":
        if isinstance(selection, int) and selection >= self.num_columns:
            raise IndexError(f"Column index {selection} out of range ({self.num_columns} columns)")
        return self._view(lambda data: data._select_columns(selection))

    def append(self, other: Any) -> "_ColumnarView":
        """Lazily append a column, a list of columns or another schema/table."""
        return self._view(lambda data: data._append(_materialise(other)))

    def insert(self, other: Any, at: int) -> "_ColumnarView":
        """Lazily insert columns at position ``at``."""
        n = self.num_columns
        other_columns = getattr(_materialise(other), "num_columns", None)
        added = 1 if other_columns is None else other_columns  # a single Column adds one
        order = list(range(n))
        order[at:at] = list(range(n, n + added))
        return self._view(lambda data: data._append(_materialise(other))._select_columns(order))

    def remove(self, selection: Any) -> "_ColumnarView":
        """Lazily drop a column (by index or name) or all columns named in a list."""
        names = list(self.column_names)
        if isinstance(selection, list):
            missing = [s for s in selection if s not in names]
            if missing:
                raise ValueError(f"Columns {missing} do not exist")
            keep = [n for n in names if n not in selection]
        elif isinstance(selection, int):
            if not 0 <= selection < len(names):
                raise IndexError(f"Column index {selection} out of range")
            keep = names[:selection] + names[selection + 1 :]
        elif isinstance(selection, str):
            names.remove(selection)  # ValueError when absent, as in KNIME
            keep = names
        else:
            raise TypeError(f"Cannot remove columns selected by {type(selection)}")
        return self._view(lambda data: data._select_columns(keep))


def _materialise(obj: Any) -> Any:
    return obj.get() if isinstance(obj, _ColumnarView) else obj


class _ColumnarView(_Columnar):
    """Lazy result of slicing/appending; ``get()`` computes it, attributes delegate to it."""

    def __init__(self, delegate: Any, operation: Callable[[Any], Any]) -> None:
        self._delegate = delegate
        self._operation = operation
        self._cache: Any = None

    def get(self) -> Any:
        """Apply the pending operation and return the concrete schema, column or table."""
        if self._cache is None:
            self._cache = self._operation(_materialise(self._delegate))
        return self._cache

    @property
    def num_columns(self) -> int:
        return self.get().num_columns

    @property
    def column_names(self) -> List[str]:
        return self.get().column_names

    def _select_columns(self, selection: Any) -> Any:
        return self.get()._select_columns(selection)

    def _append(self, other: Any) -> Any:
        return self.get()._append(other)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_delegate", "_operation", "_cache"):
            raise AttributeError(name)
        return getattr(self.get(), name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.get())

    def __eq__(self, other: object) -> bool:
        return self.get() == _materialise(other)

    def __str__(self) -> str:
        return f"ColumnarView<{self.get()}>"
