"""The exceptions knime-llm raises, in one small hierarchy.

::

    KnimeLlmError                 anything this package raises on purpose
    ├── ConfigError               a setting or option is wrong: fix the settings
    │   ├── TemplateError         the body template is not JSON, or names a column that is missing
    │   └── SchemaError           a spec or schema file cannot be read or used
    ├── DataError                 the input file or table cannot be read as a prompt table
    ├── RowError                  one row cannot be turned into a request (a cell is not JSON, ...)
    ├── RowFailedError            a row failed while the run was set to stop on the first failure
    └── Cancelled                 the run was cancelled; nothing more was sent

Row-level problems (invalid bodies, HTTP errors, timeouts) never escape a run as exceptions: they
become the ``error`` text of that row's result, so every input row still yields one output row.
Messages say what is wrong, where, and how to fix it, and never contain an API key.
"""

from __future__ import annotations


class KnimeLlmError(Exception):
    """Base class of every exception knime-llm raises on purpose."""


class ConfigError(KnimeLlmError):
    """A setting or command-line option is invalid."""


class TemplateError(ConfigError):
    """A body template is not valid JSON or refers to a column the table does not have."""


class SchemaError(ConfigError):
    """An OpenAPI spec or JSON Schema file cannot be loaded or does not hold the wanted schema."""


class DataError(KnimeLlmError):
    """The input cannot be read as a table (missing file, unknown format, unreadable content)."""


class RowError(KnimeLlmError):
    """One row cannot be turned into a request body; the message becomes that row's error."""


class RowFailedError(KnimeLlmError):
    """Raised when a run set to stop on the first failure meets a failed row."""

    def __init__(self, row_index: int, message: str) -> None:
        super().__init__(f"row {row_index + 1} failed: {message}")
        self.row_index = row_index
        self.reason = message


class Cancelled(KnimeLlmError):
    """The run was cancelled by the caller; no further request was sent."""
