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
from .parameters import ChatBody, CompletionBody, RunSettings, run_options, template_for
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
                  table: knext.Schema | None) -> tuple[knext.Schema, OpenAIConfigSpec]:
        """Check the settings against the input columns and return the exact output schema."""
        names = table.column_names if table is not None else []
        job = self._job(config.config, config.config.connection, names)
        check_credentials(ctx, config.config)
        results = [knext.Column(_KNIME_TYPES[t], n) for n, t in self._result_fields(job, names)]
        kept = list(table) if table is not None and self.settings.keep_input_columns else []
        return knext.Schema.from_columns(kept + results), config

    def execute(self, ctx: knext.ExecutionContext, config: OpenAIConfigObject,
                table: knext.Table | None) -> tuple[knext.BatchOutputTable, OpenAIConfigObject]:
        """Send one request per row (one request without a table) and output one row per row."""
        spec: OpenAIConfigSpec = config.spec
        names = table.column_names if table is not None else []
        job = self._job(spec.config, spec.connection(ctx), names)
        total = table.num_rows if table is not None else 1
        output = knext.BatchOutputTable.create(row_ids="keep")
        keep = self.settings.keep_input_columns
        result_names = [n for n, _ in self._result_fields(job, names)]

        def write(batch: pa.RecordBatch) -> None:
            if not keep:
                columns = [batch.column(0)] + batch.columns[-len(result_names):]
                batch = pa.RecordBatch.from_arrays(columns, names=[ROW_ID, *result_names])
            output.append(batch)

        def progress(done: int, of: int | None) -> None:
            ctx.set_progress(done / of if of else 0.0, f"{done:,} of {of:,} rows")

        try:
            summary = run_job(job, _batches(table), write, total=total, progress=progress,
                              cancelled=ctx.is_canceled, threaded_io=False)
        except RowFailedError as err:
            raise knext.WorkflowExecutionError(f"{err} (turn off 'Fail on the first failed row' to keep "
                                               "going and get the error per row)") from None
        if table is not None and output.num_batches == 0:  # an empty table still gets every column
            write(pa.RecordBatch.from_pylist([], schema=job.output_schema(table.to_pyarrow().schema)))
        _report(ctx, summary)
        return output, config

    def _job(self, config: ApiConfig, connection: Connection, names: Sequence[str]) -> Job:
        try:
            options = run_options(self.settings, config)
            return Job(self.endpoint, connection, options, template_for(self.body, self.endpoint, names),
                       make_validator(self.endpoint, options.validation))
        except ConfigError as err:
            raise config_error(err) from None

    def _result_fields(self, job: Job, names: Sequence[str]) -> list[tuple[str, pa.DataType]]:
        base = pa.schema([pa.field(ROW_ID, pa.string())] + [pa.field(n, pa.string()) for n in names]
                         if self.settings.keep_input_columns else [pa.field(ROW_ID, pa.string())])
        schema = job.output_schema(base)
        return [(f.name, f.type) for f in schema][len(base):]


def _batches(table: knext.Table | None) -> Iterator[pa.RecordBatch]:
    if table is None:  # no table: one request, one output row (as NodePit's node does)
        yield pa.record_batch({ROW_ID: ["Row0"]})
        return
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
**Request bodies** come from one of three places:

- **Simple**: a text column plus the model and a few common settings.
- **JSON template**: a JSON body with `{{column}}` placeholders, for example

  ```
  EXAMPLE
  ```

  A string that is exactly `"{{column}}"` becomes the cell with its type (a number column gives a
  number, a missing cell gives null, a text column always gives text); `"{{column:json}}"` parses a
  text cell as JSON (a whole `messages` array, say); `{{column}}` inside longer text is replaced as
  text. A cell's quotes, newlines or braces can never break or change the JSON around it.
- **Body column**: each cell holds the whole JSON body.

Every body is checked against the official OpenAI request schema before it is sent (setting
*Validation*); a row that fails gets an error such as
`messages[0].role: 'bot' is not one of ['developer', 'system', 'user', 'assistant', 'tool', 'function']`
and is not sent.

**Every input row gives exactly one output row**, in input order and with its RowID: failed rows
carry their HTTP status and the API's message in *error*, the raw response in *body*. Requests run
concurrently with a sliding window; 429 answers pause all requests together for as long as the
server asks (Retry-After, x-ratelimit-reset-*), and 5xx, timeouts and connection errors are
retried with backoff. Cancelling stops sending at once.

Flow variables `llm_rows_ok`, `llm_rows_failed` and `llm_total_tokens` summarise the run.
"""


def _request_ports(cls: type) -> type:
    """The ports both request nodes have, in order: configuration and prompts in, responses and
    the configuration out."""
    cls = knext.output_port("OpenAI Configuration", "The input configuration, unchanged.", CONFIG_PORT)(cls)
    cls = knext.output_table("Responses", "The input rows with body, status and error (and the parsed "
                             "columns for the Structured format).")(cls)
    cls = knext.input_table("Prompts", "One request per row. Without a table, one request is sent (the "
                            "template may then have no placeholders).", optional=True)(cls)
    return knext.input_port("OpenAI Configuration", "The endpoint, from an OpenAI Connector.", CONFIG_PORT)(cls)


@knext.node("Create Chat Completion", knext.NodeType.MANIPULATOR, "icons/chat.png", CATEGORY,
            keywords=["OpenAI", "LLM", "GPT", "chat", "prompt", "batch"])
@_request_ports
class CreateChatCompletion(_RequestNode):
    """Sends one chat completion request per row (POST /chat/completions) and outputs the responses."""

    __doc__ += _HELP.replace("EXAMPLE", _CHAT_EXAMPLE)
    endpoint = Endpoint.CHAT
    body = ChatBody()
    settings = RunSettings()


@knext.node("Create Completion", knext.NodeType.MANIPULATOR, "icons/completion.png", CATEGORY,
            keywords=["OpenAI", "LLM", "completion", "prompt", "batch"])
@_request_ports
class CreateCompletion(_RequestNode):
    """Sends one legacy text completion request per row (POST /completions) and outputs the responses."""

    __doc__ += _HELP.replace("EXAMPLE", _COMPLETION_EXAMPLE)
    endpoint = Endpoint.COMPLETION
    body = CompletionBody()
    settings = RunSettings()

