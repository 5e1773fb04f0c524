"""The three ways to build bodies: template, body column, simple settings."""

from __future__ import annotations

import pytest

from knime_llm.bodies import SimpleBody, column_body, simple_body, template_body
from knime_llm.errors import ConfigError, RowError, TemplateError
from knime_llm.settings import Endpoint


def test_template_must_be_an_object() -> None:
    with pytest.raises(TemplateError, match="must be a JSON object"):
        template_body('["{{p}}"]', ["p"])


def test_body_column_takes_json_text_or_objects() -> None:
    body = column_body("b", ["id", "b"])
    assert body.columns == ("b",)
    assert body.render(['{"model": "m"}']) == {"model": "m"}
    assert body.render([{"model": "m"}]) == {"model": "m"}


@pytest.mark.parametrize("cell, message", [
    (None, "body column 'b' is missing in this row"),
    ("{not json", "body column 'b' does not hold JSON in this row"),
    ("[1, 2]", "holds a JSON list, not an object"),
])
def test_body_column_rejects_bad_cells_per_row(cell: object, message: str) -> None:
    with pytest.raises(RowError, match=message):
        column_body("b", ["b"]).render([cell])


def test_body_column_must_exist() -> None:
    with pytest.raises(ConfigError, match="body column 'body' is not in the table. Columns: 'a'"):
        column_body("body", ["a"])


def test_simple_chat_body_with_every_setting() -> None:
    settings = SimpleBody(prompt_column="q", model="gpt-4o-mini", system="Be terse.", temperature=0.0,
                          max_tokens=32, seed=7, stop=("END",), response_format="json_object")
    body = simple_body(settings, Endpoint.CHAT, ["q"]).render(["What is 2+2?"])
    assert body == {"model": "gpt-4o-mini",
                    "messages": [{"role": "system", "content": "Be terse."},
                                 {"role": "user", "content": "What is 2+2?"}],
                    "temperature": 0.0, "max_completion_tokens": 32, "seed": 7, "stop": ["END"],
                    "response_format": {"type": "json_object"}}


def test_simple_chat_body_minimal_and_legacy_max_tokens() -> None:
    settings = SimpleBody(prompt_column="q", model="m", max_tokens=5, legacy_max_tokens=True)
    assert simple_body(settings, Endpoint.CHAT, ["q"]).render([3]) == {
        "model": "m", "messages": [{"role": "user", "content": "3"}], "max_tokens": 5}


def test_simple_completion_body() -> None:
    settings = SimpleBody(prompt_column="p", model="m", max_tokens=16, temperature=0.2)
    assert simple_body(settings, Endpoint.COMPLETION, ["p"]).render(["The capital of France is"]) == {
        "model": "m", "prompt": "The capital of France is", "temperature": 0.2, "max_tokens": 16}


def test_a_json_schema_response_format_is_wrapped_for_structured_outputs() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    body = simple_body(SimpleBody("q", "m", response_format=schema), Endpoint.CHAT, ["q"]).render(["x"])
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "response", "schema": schema, "strict": True}}


def test_simple_mode_rejects_settings_the_endpoint_lacks() -> None:
    with pytest.raises(ConfigError, match="system message is for chat"):
        simple_body(SimpleBody("p", "m", system="x"), Endpoint.COMPLETION, ["p"])
    with pytest.raises(ConfigError, match="no model given"):
        simple_body(SimpleBody("p", " "), Endpoint.CHAT, ["p"])
    with pytest.raises(ConfigError, match="prompt column 'promt' is not in the table. Did you mean 'prompt'"):
        simple_body(SimpleBody("promt", "m"), Endpoint.CHAT, ["prompt"])


def test_simple_mode_missing_prompt_is_a_row_error() -> None:
    with pytest.raises(RowError, match="column 'p' is missing in this row"):
        simple_body(SimpleBody("p", "m"), Endpoint.CHAT, ["p"]).render([None])
