"""The Create Chat Completion and Create Completion nodes: one request per row of a table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import knime.extension as knext
import pyarrow as pa

from ..errors import ConfigError, RowFailedError
from ..job import Job, Summary, make_validator, run_job
from ..settings import ApiConfig, Connection, Endpoint
from . import CATEGORY
from .cells import column_values
from .parameters import (
    BodyMode,
    ChatBody,
    CompletionBody,
    RunSettings,
    first_text_column,
    run_options,
    template_for,
)
from .ports import CONFIG_PORT, OpenAIConfigObject, OpenAIConfigSpec, check_credentials, config_error

ROW_ID = "<RowID>"
_KNIME_TYPES = {pa.string(): knext.string(), pa.int32(): knext.int32(), pa.int64(): knext.int64(),
                pa.float64(): knext.double(), pa.bool_(): knext.bool_()}


class _RequestNode:
    """What both request nodes do; the decorated subclasses add ports, parameters and texts."""

    endpoint: Endpoint
    body: Any
    settings: Any

    def configure(self, ctx: knext.ConfigurationContext, config: OpenAIConfigSpec,
                  table: knext.Schema) -> tuple[knext.Schema, OpenAIConfigSpec]:
        """Check the settings against the input columns and return the exact output schema."""
        if self.body.mode == BodyMode.SIMPLE.name and not self.body.prompt_column:
            # Shown in the dialog from now on; execute would choose the same column anyway.
            self.body.prompt_column = _first_text_column(table)
        job = self._job(config.config, config.config.connection, table)
        check_credentials(ctx, config.config)
        results = [knext.Column(_KNIME_TYPES[t], n) for n, t in self._result_fields(job, table.column_names)]
        kept = list(table) if self.settings.keep_input_columns else []
        return knext.Schema.from_columns(kept + results), config

    def execute(self, ctx: knext.ExecutionContext, config: OpenAIConfigObject,
                table: knext.Table) -> tuple[knext.BatchOutputTable, OpenAIConfigObject]:
        """Send one request per row and output one row per row, in order, with its RowID."""
        spec: OpenAIConfigSpec = config.spec
        job = self._job(spec.config, spec.connection(ctx), table.schema)
        output = knext.BatchOutputTable.create(row_ids="keep")
        keep = self.settings.keep_input_columns
        result_names = [n for n, _ in self._result_fields(job, table.column_names)]

        def write(batch: pa.RecordBatch) -> None:
            if not keep:
                columns = [batch.column(0)] + batch.columns[-len(result_names):]
                batch = pa.RecordBatch.from_arrays(columns, names=[ROW_ID, *result_names])
            output.append(batch)

        def progress(done: int, of: int | None) -> None:
            ctx.set_progress(done / of if of else 0.0, f"{done:,} of {of:,} rows")

        try:
            summary = run_job(job, _batches(table), write, total=table.num_rows, progress=progress,
                              cancelled=ctx.is_canceled, threaded_io=False)
        except RowFailedError as err:
            raise knext.WorkflowExecutionError(f"{err} (turn off 'Fail on the first failed row' to keep "
                                               "going and get the error per row)") from None
        if output.num_batches == 0:  # an empty table still gets every column
            write(pa.RecordBatch.from_pylist([], schema=job.output_schema(table.to_pyarrow().schema)))
        _report(ctx, summary)
        return output, config

    def _job(self, config: ApiConfig, connection: Connection, table: knext.Schema) -> Job:
        try:
            options = run_options(self.settings, config)
            return Job(self.endpoint, connection, options, template_for(self.body, self.endpoint, table),
                       make_validator(self.endpoint, options.validation), cells=column_values)
        except ConfigError as err:
            raise config_error(err) from None

    def _result_fields(self, job: Job, names: Sequence[str]) -> list[tuple[str, pa.DataType]]:
        base = pa.schema([pa.field(ROW_ID, pa.string())] + [pa.field(n, pa.string()) for n in names]
                         if self.settings.keep_input_columns else [pa.field(ROW_ID, pa.string())])
        schema = job.output_schema(base)
        return [(f.name, f.type) for f in schema][len(base):]


def _first_text_column(table: knext.Schema) -> str | None:
    try:
        return first_text_column(table)
    except ConfigError:
        return None  # configure goes on to say so


def _batches(table: knext.Table) -> Iterator[pa.RecordBatch]:
    for batch in table.batches():
        data = batch.to_pyarrow()  # KNIME gives a RecordBatch here, though it is typed as a Table
        yield from data.to_batches() if isinstance(data, pa.Table) else [data]


def _report(ctx: knext.ExecutionContext, summary: Summary) -> None:
    ctx.flow_variables["llm_rows_ok"] = summary.ok
    ctx.flow_variables["llm_rows_failed"] = summary.failed
    ctx.flow_variables["llm_total_tokens"] = summary.total_tokens
    if summary.failed:
        kinds = ", ".join(f"{kind}: {n:,}" for kind, n in summary.errors.most_common(3))
        ctx.set_warning(f"{summary.failed:,} of {summary.rows:,} rows failed ({kinds}); see the error column")


_CHAT_EXAMPLE = """{"model": "gpt-4o-mini",
 "temperature": "{{temperature}}",
 "messages": [{"role": "system", "content": "Answer in {{language}}."},
              {"role": "user", "content": "{{question}}"}]}"""
_COMPLETION_EXAMPLE = """{"model": "gpt-3.5-turbo-instruct",
 "max_tokens": "{{max_tokens}}",
 "prompt": "Translate into {{language}}: {{text}}"}"""
_HELP = """
Connect an **OpenAI Connector** and a table: each row is one request (for a single request, a
one-row table from a *Table Creator*). The node configures as soon as it is wired: the first
text column is the message, and the model is picked from the server's list in the dialog.

**Request bodies** come from one of three places:

- **Simple**: a text column, the model and a few common settings.
- **JSON template**: the request body as JSON with `{{column}}` placeholders (example below).
- **Body column**: each cell holds the whole JSON body (text, or a KNIME JSON cell).

A template looks like this:

```
EXAMPLE
```

A string that is exactly `"{{column}}"` becomes the cell with its type: a number column gives a
number, a missing cell null, a text column text, a KNIME JSON cell its JSON value, a list or set
column a list, and a Date&Time cell ISO-8601 text (`2024-05-17`, `08:30:00`,
`2024-05-17T08:30:00+02:00[Europe/Berlin]`, `PT1H30M`, `P1Y2M`). `"{{column:json}}"` parses a
text cell as JSON (a whole `messages` array, say); `{{column}}` inside longer text is replaced as
text. A cell's quotes, newlines or braces can never break or change the JSON around it. A column
of another type (an image, a molecule) is refused when the node is configured.

Every body is checked against the official OpenAI request schema before it is sent (setting
*Validation*); a row that fails gets an error such as
`messages[0].role: 'bot' is not one of ['developer', 'system', 'user', 'assistant', 'tool', 'function']`
and is not sent.

**Every input row gives exactly one output row**, in input order and with its RowID. The
columns appended (*Result format*):

- *body*: the response exactly as the server sent it (text; JSON for a successful answer).
- *status*: the HTTP status; missing when no response came.
- *error*: empty on success, else what went wrong (validation, timeout, HTTP status and the API's
  message).
- *warning*: with validation *Warn*, what the schema found wrong with a body that was sent anyway.
- *Parsed response* adds: COLUMNS

*body* and *tool_calls* are text columns holding JSON: a failed request's body is often not
JSON (an HTML error page, say), and KNIME 5.5 writes every JSON cell made in Python to a file of
its own, which a table of a million rows cannot afford. The *String to JSON* node converts them.

Requests run concurrently with a sliding window; 429 answers pause all requests together for as
long as the server asks (Retry-After, x-ratelimit-reset-*), and 5xx, timeouts and connection
errors are retried with backoff. Cancelling stops sending at once. Flow variables `llm_rows_ok`,
`llm_rows_failed` and `llm_total_tokens` summarise the run.
"""
_CHAT_COLUMNS = ("*content* (the answer), *refusal*, *tool_calls* (JSON), *finish_reason*, *prompt_tokens*, "
                 "*completion_tokens*, *total_tokens*, *cached_tokens*, *reasoning_tokens*, *model*, "
                 "*response_id*, *latency_ms* (of the last attempt) and *attempts*.")
_COMPLETION_COLUMNS = ("*text* (the answer), *finish_reason*, *prompt_tokens*, *completion_tokens*, "
                       "*total_tokens*, *cached_tokens*, *reasoning_tokens*, *model*, *response_id*, "
                       "*latency_ms* (of the last attempt) and *attempts*.")


def _request_ports(cls: type) -> type:
    """The ports both request nodes have, in order: configuration and prompts in, responses and
    the configuration out."""
    cls = knext.output_port("OpenAI Configuration", "The input configuration, unchanged, for the next node.",
                            CONFIG_PORT)(cls)
    cls = knext.output_table("Responses", "The input rows (unless *Keep input columns* is off) with the result "
                             "columns: *body*, *status* and *error*, and the parsed columns for the result "
                             "format *Parsed response* (the node description lists them all).")(cls)
    cls = knext.input_table("Prompts", "One request per row; a single request is a one-row table.")(cls)
    return knext.input_port("OpenAI Configuration", "The endpoint, from an OpenAI Connector.", CONFIG_PORT)(cls)


@knext.node("Create Chat Completion", knext.NodeType.MANIPULATOR, "icons/chat.png", CATEGORY,
            keywords=["OpenAI", "LLM", "GPT", "chat", "prompt", "batch"])
@_request_ports
class CreateChatCompletion(_RequestNode):
    """Sends one chat completion request per row (POST /chat/completions) and outputs the responses."""

    __doc__ += _HELP.replace("EXAMPLE", _CHAT_EXAMPLE).replace("COLUMNS", _CHAT_COLUMNS)
    endpoint = Endpoint.CHAT
    body = ChatBody()
    settings = RunSettings()


@knext.node("Create Completion", knext.NodeType.MANIPULATOR, "icons/completion.png", CATEGORY,
            keywords=["OpenAI", "LLM", "completion", "prompt", "batch"])
@_request_ports
class CreateCompletion(_RequestNode):
    """Sends one legacy text completion request per row (POST /completions) and outputs the responses."""

    __doc__ += _HELP.replace("EXAMPLE", _COMPLETION_EXAMPLE).replace("COLUMNS", _COMPLETION_COLUMNS)
    endpoint = Endpoint.COMPLETION
    body = CompletionBody()
    settings = RunSettings()

