"""Parameters shared by the Create Chat Completion and Create Completion nodes, declared once.

Each group maps onto engine settings with one function (``template_for``, ``run_options``), so a
node module never repeats a default or a rule: defaults come from the engine's dataclasses.
Settings added in 0.2.0 carry ``since_version``, so workflows saved before load with the values
they had.
"""

from __future__ import annotations

import json
from typing import Any

import knime.extension as knext

from ..bodies import SimpleBody, column_body, simple_body, template_body
from ..errors import ConfigError
from ..settings import ApiConfig, Endpoint, ResultFormat, RunOptions, Validation
from ..templates import Template
from .cells import JSON_FACTORY, check_columns, value_factory
from .modelchoice import ModelFrom, chosen_model, model_dropdown, model_name_field, model_switch

CHAT_TEMPLATE = json.dumps({"model": "gpt-4o-mini",
                            "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                         {"role": "user", "content": "{{prompt}}"}]}, indent=2)
COMPLETION_TEMPLATE = json.dumps({"model": "gpt-3.5-turbo-instruct", "prompt": "{{prompt}}",
                                  "max_tokens": 64}, indent=2)


class BodyMode(knext.EnumParameterOptions):
    SIMPLE = ("Simple", "A message column plus model and common settings.")
    TEMPLATE = ("JSON template", "A JSON request body with {{column}} placeholders.")
    COLUMN = ("Body column", "Each row's cell holds the whole JSON request body.")


class ResponseFormat(knext.EnumParameterOptions):
    TEXT = ("Text", "Plain text answers (nothing is sent).")
    JSON_OBJECT = ("JSON object", "Ask for a JSON object (`response_format: json_object`).")
    JSON_SCHEMA = ("JSON Schema", "Structured outputs that follow the JSON Schema given below.")


class ValidationMode(knext.EnumParameterOptions):
    STRICT = ("Strict", "Rows whose body breaks the OpenAI schema are not sent; their error says why.")
    WARN = ("Warn", "Such rows are sent anyway and the problem goes into a 'warning' column.")
    OFF = ("Off", "Bodies are not checked (servers with extensions of their own).")


class OutputFormat(knext.EnumParameterOptions):
    RAW = ("Raw response", "Columns body (the response text exactly as the server sent it), status (the HTTP "
                           "status) and error (empty on success).")
    PARSED = ("Parsed response", "The raw columns plus the answer (content, or text for completions), refusal "
                                 "and tool calls, finish reason, token counts, model, response id, latency "
                                 "and attempts.")


def _shown_for(mode: Any, option: BodyMode, *also: knext.OneOf) -> tuple[Any, knext.Effect]:
    """The rule that shows a parameter only for one body mode (and further conditions)."""
    condition = knext.OneOf(mode, [option.name])
    return (knext.And(condition, *also) if also else condition), knext.Effect.SHOW


def _is(subject: Any, option: knext.EnumParameterOptions) -> knext.OneOf:
    """The condition that an enum parameter has one value."""
    return knext.OneOf(subject, [option.name])


def _text_column(column: knext.Column) -> bool:
    return column.ktype == knext.string()


def _body_column_type(column: knext.Column) -> bool:
    """Text or KNIME JSON: the types a whole request body can come in."""
    ktype = column.ktype
    return _text_column(column) or (isinstance(ktype, knext.LogicalType)
                                    and value_factory(ktype.logical_type) == JSON_FACTORY)


def first_text_column(schema: knext.Schema) -> str:
    """The first string column of the table: what Simple mode uses while no column is chosen.

    Raises:
        ConfigError: the table has no string column.
    """
    for column in schema:
        if _text_column(column):
            return column.name
    raise ConfigError("the input table has no text column for the message; add one (e.g. with a Table Creator "
                      "or String Manipulation node), or build the bodies with 'JSON template'")


def _body_mode() -> knext.EnumParameter:
    return knext.EnumParameter("Body from", "How each row's request body is built.", BodyMode.SIMPLE.name,
                               BodyMode, style=knext.EnumParameter.Style.VALUE_SWITCH)


def _template(default: str) -> knext.MultilineStringParameter:
    return knext.MultilineStringParameter(
        "JSON template",
        "The request body as JSON. A string that is exactly `\"{{column}}\"` becomes the cell with its "
        "type (numbers stay numbers, a missing cell becomes null, a text cell stays text, a JSON cell its "
        "JSON, a Date&Time cell ISO-8601 text); "
        "`\"{{column:json}}\"` parses a text cell as JSON; `{{column}}` inside longer text is replaced "
        "as text. Cells can never break or inject into the JSON.",
        default, number_of_lines=12)


def _body_column() -> knext.ColumnParameter:
    return knext.ColumnParameter("Body column", "Column holding each row's whole request body: JSON text, or a "
                                 "KNIME JSON cell.", port_index=1, column_filter=_body_column_type)


def _prompt_column(label: str) -> knext.ColumnParameter:
    return knext.ColumnParameter(label, "Column holding each row's text; one request per row. While none is "
                                 "chosen, the first text column of the table is used.",
                                 port_index=1, column_filter=_text_column)


def _max_tokens() -> knext.IntParameter:
    return knext.IntParameter("Maximum tokens", "Longest answer in tokens; 0 sends no limit.", 0, min_value=0)


def _use_temperature() -> knext.BoolParameter:
    return knext.BoolParameter("Set temperature", "Send a sampling temperature (reasoning models accept "
                               "only their default: leave this off for them).", False)


def _temperature() -> knext.DoubleParameter:
    return knext.DoubleParameter("Temperature", "0 gives the most repeatable answers, 2 the most varied.",
                                 0.0, min_value=0.0, max_value=2.0)


def _use_seed() -> knext.BoolParameter:
    return knext.BoolParameter("Set seed", "Send a sampling seed, for repeatable answers where supported.", False)


def _seed() -> knext.IntParameter:
    return knext.IntParameter("Seed", "The sampling seed.", 42)


@knext.parameter_group(label="Request body")
class ChatBody:
    """How Create Chat Completion builds each request body."""

    mode = _body_mode()
    template = _template(CHAT_TEMPLATE).rule(*_shown_for(mode, BodyMode.TEMPLATE))
    body_column = _body_column().rule(*_shown_for(mode, BodyMode.COLUMN))
    prompt_column = _prompt_column("Message column").rule(*_shown_for(mode, BodyMode.SIMPLE))
    model_from = model_switch().rule(*_shown_for(mode, BodyMode.SIMPLE))
    listed_model = model_dropdown("gpt-4o-mini").rule(
        *_shown_for(mode, BodyMode.SIMPLE, _is(model_from, ModelFrom.SERVER)))
    model = model_name_field("gpt-4o-mini").rule(*_shown_for(mode, BodyMode.SIMPLE, _is(model_from, ModelFrom.NAME)))
    system = knext.MultilineStringParameter(
        "System message", "Instructions sent before every row's message; empty sends none.", "",
        number_of_lines=3).rule(*_shown_for(mode, BodyMode.SIMPLE))
    max_tokens = _max_tokens().rule(*_shown_for(mode, BodyMode.SIMPLE))
    use_temperature = _use_temperature().rule(*_shown_for(mode, BodyMode.SIMPLE))
    temperature = _temperature().rule(*_shown_for(mode, BodyMode.SIMPLE, knext.OneOf(use_temperature, [True])))
    use_seed = _use_seed().rule(*_shown_for(mode, BodyMode.SIMPLE))
    seed = _seed().rule(*_shown_for(mode, BodyMode.SIMPLE, knext.OneOf(use_seed, [True])))
    response_format = knext.EnumParameter(
        "Response format", "Plain text, a JSON object, or structured outputs following a JSON Schema.",
        ResponseFormat.TEXT.name, ResponseFormat).rule(*_shown_for(mode, BodyMode.SIMPLE))
    json_schema = knext.MultilineStringParameter(
        "JSON Schema", "The JSON Schema answers must follow (for the response format 'JSON Schema').",
        '{"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], '
        '"additionalProperties": false}', number_of_lines=6).rule(
        *_shown_for(mode, BodyMode.SIMPLE, _is(response_format, ResponseFormat.JSON_SCHEMA)))


@knext.parameter_group(label="Request body")
class CompletionBody:
    """How Create Completion builds each request body."""

    mode = _body_mode()
    template = _template(COMPLETION_TEMPLATE).rule(*_shown_for(mode, BodyMode.TEMPLATE))
    body_column = _body_column().rule(*_shown_for(mode, BodyMode.COLUMN))
    prompt_column = _prompt_column("Prompt column").rule(*_shown_for(mode, BodyMode.SIMPLE))
    model_from = model_switch().rule(*_shown_for(mode, BodyMode.SIMPLE))
    listed_model = model_dropdown("gpt-3.5-turbo-instruct").rule(
        *_shown_for(mode, BodyMode.SIMPLE, _is(model_from, ModelFrom.SERVER)))
    model = model_name_field("gpt-3.5-turbo-instruct").rule(*_shown_for(mode, BodyMode.SIMPLE,
                                                                        _is(model_from, ModelFrom.NAME)))
    max_tokens = _max_tokens().rule(*_shown_for(mode, BodyMode.SIMPLE))
    use_temperature = _use_temperature().rule(*_shown_for(mode, BodyMode.SIMPLE))
    temperature = _temperature().rule(*_shown_for(mode, BodyMode.SIMPLE, knext.OneOf(use_temperature, [True])))
    use_seed = _use_seed().rule(*_shown_for(mode, BodyMode.SIMPLE))
    seed = _seed().rule(*_shown_for(mode, BodyMode.SIMPLE, knext.OneOf(use_seed, [True])))


@knext.parameter_group(label="Validation and output")
class RunSettings:
    """Validation, result columns and failure handling, shared by both request nodes."""

    validation = knext.EnumParameter("Validation", "Check every body against the official OpenAI request "
                                     "schema before sending.", ValidationMode.STRICT.name, ValidationMode)
    result_format = knext.EnumParameter("Result format", "Which columns are appended (the node description "
                                        "lists each column).", OutputFormat.RAW.name, OutputFormat)
    keep_input_columns = knext.BoolParameter("Keep input columns", "Output the input columns before the "
                                             "result columns (off: only the result columns).", True)
    fail_on_error = knext.BoolParameter("Fail on the first failed row", "Stop the node at the first row that "
                                        "fails (off: every row gets a result and failed rows carry an error).",
                                        RunOptions.stop_on_error)
    deduplicate = knext.BoolParameter("Send identical bodies once", "Rows with exactly the same body share "
                                      "one request and its answer.", RunOptions.deduplicate, is_advanced=True)


def template_for(body: Any, endpoint: Endpoint, schema: knext.Schema) -> Template:
    """The engine's body source for a body group's settings, compiled against the input table.

    In Simple mode without a chosen column the first text column is used.

    Raises:
        ConfigError: the template, column or simple settings do not fit the table, or the body
            reads a column whose type has no place in a request body.
    """
    columns = schema.column_names
    mode = body.mode
    if mode == BodyMode.TEMPLATE.name:
        template = template_body(body.template, columns)
    elif mode == BodyMode.COLUMN.name:
        template = column_body(_chosen(body.body_column, "body column"), columns)
    else:
        chat = endpoint is Endpoint.CHAT
        settings = SimpleBody(
            prompt_column=body.prompt_column or first_text_column(schema),
            model=chosen_model(body),
            system=(body.system or None) if chat else None,
            temperature=body.temperature if body.use_temperature else None,
            max_tokens=body.max_tokens or None,
            seed=body.seed if body.use_seed else None,
            response_format=_response_format(body) if chat else None)
        template = simple_body(settings, endpoint, columns)
    check_columns(schema, template.columns)
    return template


def _chosen(column: str | None, what: str) -> str:
    if not column:
        raise ConfigError(f"no {what} chosen; pick one in the node's settings")
    return column


def _response_format(body: Any) -> str | dict | None:
    if body.response_format == ResponseFormat.JSON_OBJECT.name:
        return "json_object"
    if body.response_format == ResponseFormat.JSON_SCHEMA.name:
        try:
            schema = json.loads(body.json_schema)
        except ValueError as err:
            raise ConfigError(f"the JSON Schema of the response format is not JSON: {err}") from None
        if not isinstance(schema, dict):
            raise ConfigError("the JSON Schema of the response format must be a JSON object")
        return schema
    return None


def run_options(settings: Any, config: ApiConfig) -> RunOptions:
    """Engine run options from the node's settings and the connector's configuration."""
    return RunOptions(concurrency=config.concurrency, validation=Validation[settings.validation],
                      result_format=ResultFormat[settings.result_format],
                      deduplicate=settings.deduplicate, stop_on_error=settings.fail_on_error,
                      retry=config.retry, limits=config.limits)
