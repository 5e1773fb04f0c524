"""Extraction of standalone JSON Schemas from OpenAPI documents: the spec's traps."""

from __future__ import annotations

import pytest

from knime_llm.errors import SchemaError
from knime_llm.validation.extract import extract_schema
from tests.openapi_helpers import openapi, valid


def test_header_and_provenance() -> None:
    out = extract_schema(openapi({"A": {"type": "string"}}), "A", comment="from x.yaml")
    assert list(out)[:3] == ["$schema", "$id", "$comment"]
    assert out["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert out["$id"] == "urn:knime-llm:9.9.9:A"
    assert out["$comment"] == "from x.yaml"
    assert out["type"] == "string"


def test_nullable_typed_becomes_type_list() -> None:
    out = extract_schema(openapi({"A": {"type": "integer", "minimum": 1, "nullable": True}}), "A")
    assert out["type"] == ["integer", "null"]
    assert valid(out, None) and valid(out, 3)
    assert not valid(out, 0) and not valid(out, "3")


def test_nullable_enum_gets_null_value() -> None:
    out = extract_schema(
        openapi({"A": {"type": "string", "enum": ["a", "b"], "nullable": True}}), "A"
    )
    assert out["enum"] == ["a", "b", None]
    assert valid(out, None) and valid(out, "a") and not valid(out, "c")


def test_nullable_untyped_wraps_in_anyof() -> None:
    schema = {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "nullable": True,
    }
    out = extract_schema(openapi({"A": schema}), "A")
    assert out["anyOf"][1] == {"type": "null"}
    assert valid(out, None) and valid(out, "x") and valid(out, ["x"])
    assert not valid(out, 5)


def test_nullable_ref_sibling_and_nullable_false() -> None:
    spec = openapi(
        {
            "A": {
                "type": "object",
                "properties": {
                    "stop": {"$ref": "#/components/schemas/Stop", "nullable": True},
                    "n": {"type": "integer", "nullable": False},
                },
            },
            "Stop": {"type": "string", "description": "where to stop"},
        }
    )
    out = extract_schema(spec, "A")
    assert out["properties"]["stop"] == {"type": ["string", "null"]}
    assert out["properties"]["n"] == {"type": "integer"}
    assert valid(out, {"stop": None}) and not valid(out, {"n": None})


def test_openapi_31_nullable_is_converted_too() -> None:
    spec = openapi(
        {"A": {"type": "object", "properties": {"t": {"type": "number", "nullable": True}}}},
        "3.1.0",
    )
    assert valid(extract_schema(spec, "A"), {"t": None})


def test_ref_with_validating_siblings_goes_under_allof() -> None:
    spec = openapi(
        {
            "A": {
                "properties": {
                    "s": {"$ref": "#/components/schemas/S", "maxLength": 3, "description": "d"}
                }
            },
            "S": {"type": "string", "minLength": 1},
        }
    )
    prop = extract_schema(spec, "A")["properties"]["s"]
    assert prop == {"maxLength": 3, "allOf": [{"type": "string", "minLength": 1}]}


def test_ref_with_annotation_siblings_is_just_the_target() -> None:
    spec = openapi(
        {
            "A": {
                "properties": {
                    "s": {"$ref": "#/components/schemas/S", "description": "d", "default": "x"}
                }
            },
            "S": {"type": "string", "x-stainless-const": True},
        }
    )
    assert extract_schema(spec, "A")["properties"]["s"] == {"type": "string"}


def test_recursive_ref_goes_to_defs() -> None:
    spec = openapi(
        {
            "Doc": {
                "type": "object",
                "properties": {"root": {"$ref": "#/components/schemas/Node"}},
            },
            "Node": {
                "type": "object",
                "required": ["v"],
                "properties": {
                    "v": {"type": "integer"},
                    "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            },
        }
    )
    out = extract_schema(spec, "Doc")
    assert out["properties"]["root"]["properties"]["kids"]["items"] == {"$ref": "#/$defs/Node"}
    assert set(out["$defs"]) == {"Node"}
    assert valid(out, {"root": {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}})
    assert not valid(out, {"root": {"v": 1, "kids": [{"v": 2, "kids": [{"v": "three"}]}]}})


def test_root_that_recurses_refers_to_itself() -> None:
    spec = openapi(
        {
            "Tree": {
                "type": "object",
                "properties": {
                    "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
                    "name": {"type": "string"},
                },
            }
        }
    )
    out = extract_schema(spec, "Tree")
    assert "$defs" not in out
    assert valid(out, {"kids": [{"kids": [{"name": "x"}]}]})
    assert not valid(out, {"kids": [{"kids": [{"name": 1}]}]})


def test_recursive_ref_via_recursive_anchor() -> None:
    spec = openapi(
        {
            "Filter": {
                "$recursiveAnchor": True,
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["and", "or"]},
                    "filters": {
                        "type": "array",
                        "items": {
                            "oneOf": [{"$ref": "#/components/schemas/Eq"}, {"$recursiveRef": "#"}]
                        },
                    },
                },
            },
            "Eq": {
                "type": "object",
                "required": ["type", "key"],
                "properties": {"type": {"const": "eq"}, "key": {"type": "string"}},
            },
        },
        "3.1.0",
    )
    out = extract_schema(spec, "Filter")
    assert valid(
        out, {"type": "and", "filters": [{"type": "and", "filters": [{"type": "eq", "key": "k"}]}]}
    )
    assert not valid(
        out, {"type": "and", "filters": [{"type": "and", "filters": [{"type": "xor"}]}]}
    )


def test_cycle_that_never_reaches_a_value_is_an_error() -> None:
    spec = openapi(
        {
            "A": {"allOf": [{"$ref": "#/components/schemas/B"}]},
            "B": {"anyOf": [{"$ref": "#/components/schemas/A"}]},
        }
    )
    with pytest.raises(SchemaError, match=r"circular \$ref .*A -> B -> A"):
        extract_schema(spec, "A")


def test_exclusive_bounds_from_openapi_30() -> None:
    spec = openapi(
        {
            "A": {
                "type": "object",
                "properties": {
                    "lr": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                    "p": {"type": "number", "maximum": 1, "exclusiveMaximum": False},
                },
            }
        }
    )
    props = extract_schema(spec, "A")["properties"]
    assert props["lr"] == {"type": "number", "exclusiveMinimum": 0}
    assert props["p"] == {"type": "number", "maximum": 1}
    out = extract_schema(spec, "A")
    assert not valid(out, {"lr": 0}) and valid(out, {"lr": 0.1}) and valid(out, {"p": 1})


def test_only_validating_keywords_are_kept() -> None:
    noisy = {
        "type": "string",
        "description": "d",
        "title": "t",
        "default": "x",
        "deprecated": True,
        "examples": ["x"],
        "example": "x",
        "format": "unixtime",
        "readOnly": True,
        "writeOnly": False,
        "discriminator": {"propertyName": "type"},
        "xml": {"name": "a"},
        "externalDocs": {"url": "u"},
        "$comment": "c",
        "x-oaiMeta": {"a": 1},
        "x-stainless-const": True,
        "optional": True,
    }
    assert {
        k: v for k, v in extract_schema(openapi({"A": noisy}), "A").items() if not k.startswith("$")
    } == {"type": "string"}


def test_property_names_that_look_like_keywords_stay() -> None:
    names = ["description", "default", "title", "x-foo", "format", "example", "$ref", "nullable"]
    spec = openapi(
        {
            "A": {
                "type": "object",
                "required": names,
                "properties": {
                    n: {"type": "string", "description": "a property called " + n} for n in names
                },
                "patternProperties": {"^x-": {"type": "string", "title": "t"}},
                "dependentRequired": {"description": ["title"]},
                "dependentSchemas": {"default": {"required": ["x-foo"], "description": "d"}},
            }
        }
    )
    out = extract_schema(spec, "A")
    assert list(out["properties"]) == names
    assert all(p == {"type": "string"} for p in out["properties"].values())
    assert out["patternProperties"] == {"^x-": {"type": "string"}}
    assert out["dependentRequired"] == {"description": ["title"]}
    assert out["dependentSchemas"] == {"default": {"required": ["x-foo"]}}
    assert not valid(out, {n: "v" for n in names if n != "description"})


def test_enum_and_const_values_are_data() -> None:
    value = {"description": "kept", "x-y": 1}
    out = extract_schema(openapi({"A": {"enum": [value], "const": value}}), "A")
    assert out["enum"] == [value] and out["const"] == value


def test_top_level_allof_like_the_2026_chat_request() -> None:
    spec = openapi(
        {
            "Shared": {
                "type": "object",
                "properties": {"temperature": {"type": "number", "maximum": 2, "nullable": True}},
            },
            "Req": {
                "allOf": [
                    {"$ref": "#/components/schemas/Shared"},
                    {
                        "type": "object",
                        "required": ["messages"],
                        "properties": {"messages": {"type": "array", "minItems": 1}},
                    },
                ]
            },
        },
        "3.1.0",
    )
    out = extract_schema(spec, "Req")
    assert len(out["allOf"]) == 2
    assert valid(out, {"messages": [1], "temperature": None})
    assert not valid(out, {"messages": [1], "temperature": 3})
    assert not valid(out, {"temperature": 1})


def test_unknown_name_lists_close_names() -> None:
    spec = openapi({"CreateChatCompletionRequest": {}, "CreateCompletionRequest": {}})
    with pytest.raises(
        SchemaError,
        match=r"'CreateChatCompletionRequst' is not in .*close names: CreateChatCompletionRequest",
    ):
        extract_schema(spec, "CreateChatCompletionRequst")


def test_dangling_and_foreign_refs_are_errors() -> None:
    with pytest.raises(SchemaError, match="'Missing'"):
        extract_schema(openapi({"A": {"$ref": "#/components/schemas/Missing"}}), "A")
    with pytest.raises(SchemaError, match=r"unsupported \$ref"):
        extract_schema(openapi({"A": {"$ref": "other.yaml#/A"}}), "A")


def test_malformed_schema_in_spec_is_an_error() -> None:
    with pytest.raises(SchemaError, match="'A' in the spec is malformed"):
        extract_schema(openapi({"A": {"properties": ["a", "b"]}}), "A")
    with pytest.raises(SchemaError, match="expected a schema object"):
        extract_schema(openapi({"A": {"items": "string"}}), "A")
