"""Prompt tables as files: CSV, Parquet and JSON Lines, streamed in Arrow batches.

:func:`open_input` and :func:`open_output` choose the format by the file's extension
(:mod:`.formats`); every reader and writer is an :class:`~.tableio.InputTable` or
:class:`~.tableio.OutputWriter` (:mod:`.tableio`). The formats: :mod:`.csvsniff`,
:mod:`.csvread` and :mod:`.csvwrite` for CSV, :mod:`.parquet`, :mod:`.jsonl`. No cell is ever
changed on the way through.
"""

from .formats import open_input, open_output
from .tableio import InputTable, OutputWriter

__all__ = ["InputTable", "OutputWriter", "open_input", "open_output"]
