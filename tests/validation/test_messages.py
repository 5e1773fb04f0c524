"""One-line explanations of jsonschema error trees (knime_llm.validation.messages)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from knime_llm.validation.messages import describe, format_path


def explain(schema: dict[str, Any], instance: Any) -> str | None:
    return describe(Draft202012Validator(schema).iter_errors(instance))


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ([], "(body)"),
        (["messages", 0, "role"], "messages[0].role"),
        (["metadata", "my key"], "metadata['my key']"),
        (["headers", "x-foo"], "headers.x-foo"),
        ([0, "a.b"], "[0]['a.b']"),
    ],
)
def test_paths_read_like_json(path: list, text: str) -> None:
    assert format_path(path) == text


def test_no_errors_no_message() -> None:
    assert explain({"type": "string"}, "ok") is None


def test_types_of_all_alternatives_are_merged() -> None:
    schema = {"anyOf": [{"type": "integer"}, {"type": ["string", "array"]}, {"type": "null"}]}
    assert (
        explain(schema, 1.5) == "(body): 1.5 is not of type 'integer', 'string', 'array' or 'null'"
    )


def test_discriminator_values_are_merged() -> None:
    kinds = [
        {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"const": k}, "n": {"type": "integer"}},
        }
        for k in ("a", "b")
    ]
    kinds.append({"type": "object", "properties": {"kind": {"enum": ["c", "d"]}}})
    assert (
        explain({"oneOf": kinds}, {"kind": "z", "n": "x"})
        == "kind: 'z' is not one of ['a', 'b', 'c', 'd']"
    )


def test_the_alternative_with_the_right_discriminator_is_followed() -> None:
    kinds = [
        {
            "type": "object",
            "properties": {"kind": {"const": "a"}, "n": {"type": "integer", "minimum": 5}},
        },
        {"type": "object", "properties": {"kind": {"const": "b"}}, "required": ["m"]},
    ]
    assert explain({"oneOf": kinds}, {"kind": "a", "n": 1}) == "n: 1 is less than the minimum of 5"
    assert explain({"oneOf": kinds}, {"kind": "b"}) == "m: required property is missing"


def test_enums_of_alternatives_on_the_value_itself_are_merged() -> None:
    schema = {"anyOf": [{"enum": ["none", "auto"]}, {"const": "required"}, {"type": "object"}]}
    assert (
        explain(schema, "sometimes")
        == "(body): 'sometimes' is not one of ['none', 'auto', 'required']"
    )


def test_nested_alternatives_count_as_a_type_mismatch() -> None:
    content = {"anyOf": [{"oneOf": [{"type": "string"}, {"type": "array"}]}, {"type": "null"}]}
    schema = {"type": "object", "properties": {"content": content}}
    assert (
        explain(schema, {"content": 5}) == "content: 5 is not of type 'string', 'array' or 'null'"
    )


def test_shallowest_error_is_reported_first() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"b": {"properties": {"c": {"type": "string"}}}},
    }
    assert explain(schema, {"b": {"c": 1}}) == "a: required property is missing"


def test_several_matching_alternatives() -> None:
    assert explain({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 3) == (
        "(body): 3 matches more than one of the allowed forms"
    )


@pytest.mark.parametrize(
    ("schema", "instance", "text"),
    [
        ({"const": "text"}, "txt", "(body): 'txt' is not one of ['text']"),
        ({"exclusiveMinimum": 0}, 0, "(body): 0 must be greater than 0"),
        ({"maxLength": 2}, "abc", "(body): 'abc' has 3 characters; at most 2 allowed"),
        ({"minItems": 2}, [1], "(body): [1] has 1 item; at least 2 required"),
        ({"minLength": 1}, "", "(body): '' is empty; at least 1 character required"),
        (
            {"maxProperties": 1},
            {"a": 1, "b": 2},
            "(body): {'a': 1, 'b': 2} has 2 properties; at most 1 allowed",
        ),
        ({"uniqueItems": True}, [1, 1], "(body): [1, 1] has duplicate items"),
        ({"pattern": "^a"}, "b", "(body): 'b' does not match the pattern '^a'"),
        (
            {"patternProperties": {"^x-": {}}, "additionalProperties": False},
            {"x-a": 1, "y": 2},
            "y: unexpected property; the schema allows no other properties here",
        ),
        ({"type": "boolean"}, None, "(body): null is not of type 'boolean'"),
        ({"enum": [None, True]}, False, "(body): false is not one of [null, true]"),
        (
            {"enum": list(range(20))},
            99,
            "(body): 99 is not one of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … 8 more]",
        ),
    ],
)
def test_leaf_messages(schema: dict, instance: Any, text: str) -> None:
    assert explain(schema, instance) == text


def test_big_values_are_cut_short() -> None:
    instance = {"messages": [{"content": "x" * 10_000}] * 100}
    message = explain({"type": "string"}, instance)
    assert message is not None
    assert message.startswith("(body): {'messages': [{'content': 'xxxx")
    assert message.endswith("… is not of type 'string'")
    assert len(message) < 100
