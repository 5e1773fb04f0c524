"""Body templates: typed cells, text substitution, JSON cells, errors before sending."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from knime_llm.errors import RowError, TemplateError
from knime_llm.templates import Cell, as_text, compile_template

CHAT = '{"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]}'


def render(template: str, row: dict) -> object:
    compiled = compile_template(template, list(row))
    return compiled.render([row[c] for c in compiled.columns])


def test_whole_string_placeholder_keeps_the_cell_type() -> None:
    template = ('{"a": "{{n}}", "b": "{{f}}", "c": "{{flag}}", "d": "{{missing}}", '
                '"e": "{{obj}}", "g": "{{items}}", "t": "{{text}}"}')
    row = {"n": 4, "f": 0.5, "flag": True, "missing": None, "obj": {"k": [1]}, "items": [1, "x"],
           "text": '{"looks": "like json"}'}
    assert render(template, row) == {"a": 4, "b": 0.5, "c": True, "d": None, "e": {"k": [1]},
                                     "g": [1, "x"], "t": '{"looks": "like json"}'}


def test_json_suffix_parses_text_cells_on_purpose() -> None:
    body = render('{"messages": "{{msgs:json}}"}', {"msgs": '[{"role": "user", "content": "hi"}]'})
    assert body == {"messages": [{"role": "user", "content": "hi"}]}


def test_json_suffix_on_a_cell_that_is_not_json_is_a_row_error() -> None:
    with pytest.raises(RowError, match=r"column 'msgs' is used as \{\{msgs:json\}\} but this cell is not JSON"):
        render('{"messages": "{{msgs:json}}"}', {"msgs": "not json ["})


def test_placeholder_inside_text_is_replaced_as_text() -> None:
    body = render('{"content": "Translate {{ text }} into {{lang}} ({{n}}, {{ok}}, {{gone}})"}',
                  {"text": 'say "hi"\n', "lang": "French", "n": 3, "ok": False, "gone": None})
    assert body == {"content": 'Translate say "hi"\n into French (3, false, )'}


def test_cells_cannot_inject_into_the_body() -> None:
    evil = '", "model": "gpt-evil", "x": "'
    body = render(CHAT, {"prompt": evil})
    assert body["model"] == "m"
    assert body["messages"][0]["content"] == evil
    assert orjson.loads(orjson.dumps(body)) == body


def test_unknown_column_is_reported_with_place_and_suggestion() -> None:
    with pytest.raises(TemplateError) as err:
        compile_template(CHAT, ["id", "promt"])
    message = str(err.value)
    assert "{{prompt}}" in message and "messages[0].content" in message
    assert "Did you mean 'promt'?" in message and "'id'" in message


def test_invalid_json_template_names_line_and_column() -> None:
    with pytest.raises(TemplateError, match="not valid JSON: .* at line 2, column"):
        compile_template('{"model": "m",\n "messages": [}', ["prompt"])


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_template_is_rejected(text: str) -> None:
    with pytest.raises(TemplateError, match="empty"):
        compile_template(text, [])


def test_json_suffix_inside_longer_text_is_rejected_before_sending() -> None:
    with pytest.raises(TemplateError, match="whole string"):
        compile_template('{"a": "x {{c:json}}"}', ["c"])


def test_a_column_named_with_json_suffix_is_taken_literally() -> None:
    assert render('{"a": "{{c:json}}"}', {"c:json": "[1]"}) == {"a": "[1]"}


def test_keys_are_not_substituted_and_constants_are_shared() -> None:
    compiled = compile_template('{"{{k}}": 1, "fixed": {"deep": [1, 2]}}', ["k"])
    assert compiled.columns == ()
    assert compiled.render([]) == {"{{k}}": 1, "fixed": {"deep": [1, 2]}}


def test_columns_are_listed_once_in_first_use_order() -> None:
    compiled = compile_template('{"a": "{{y}} {{x}}", "b": "{{y}}"}', ["x", "y", "z"])
    assert compiled.columns == ("y", "x")


def test_cell_objects_support_text_and_required() -> None:
    compiled = compile_template({"content": Cell("p", as_text=True, required=True)}, ["p"])
    assert compiled.render([12]) == {"content": "12"}
    with pytest.raises(RowError, match="column 'p' is missing in this row"):
        compiled.render([None])


@pytest.mark.parametrize("value, text", [(None, ""), (True, "true"), (7, "7"), (2.5, "2.5"),
                                         ({"a": 1}, '{"a":1}'), ("x", "x")])
def test_as_text(value: object, text: str) -> None:
    assert as_text(value) == text


@given(st.text())
def test_any_cell_text_gives_a_valid_body_holding_exactly_that_text(text: str) -> None:
    body = render(CHAT, {"prompt": text})
    wire = json.loads(orjson.dumps(body))
    assert wire["messages"][0]["content"] == text
    assert wire["model"] == "m" and len(wire) == 2


@given(st.text(), st.text())
def test_any_cell_text_inside_a_sentence_survives_exactly(before: str, cell: str) -> None:
    template = json.dumps({"content": before.replace("{", "(") + " {{c}}"})
    body = render(template, {"c": cell})
    assert json.loads(orjson.dumps(body))["content"] == before.replace("{", "(") + " " + cell
