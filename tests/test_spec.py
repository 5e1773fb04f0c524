"""Extraction of standalone JSON Schemas from OpenAPI documents (knime_llm.spec)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import jsonschema
import pytest

from knime_llm.errors import SchemaError
from knime_llm.spec import extract_schema, load_document, main, schema_from_document
from knime_llm.validation import BodyValidator

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "knime_llm" / "schemas"
SPEC_DIR = Path("/work/shared/openai-spec")
REQUEST_SCHEMAS = ("CreateChatCompletionRequest", "CreateCompletionRequest")


def openapi(schemas: dict, version: str = "3.0.0", info_version: str = "9.9.9") -> dict:
    """A minimal OpenAPI document holding ``schemas``."""
    return {
        "openapi": version,
        "info": {"title": "t", "version": info_version},
        "paths": {},
        "components": {"schemas": schemas},
    }


def valid(schema: dict, instance: object) -> bool:
    """Verdict of both backends, which must agree."""
    jsonschema.Draft202012Validator.check_schema(schema)
    py = jsonschema.Draft202012Validator(schema).is_valid(instance)
    rs = BodyValidator(schema, backend="rs").check(instance) is None
    assert py == rs
    return py


# --- load_document ------------------------------------------------------------------------------


def test_load_json(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"type": "object", "title": "é"}', encoding="utf-8")
    assert load_document(path) == {"type": "object", "title": "é"}


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_load_yaml_keeps_dates_as_strings(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / f"spec{suffix}"
    path.write_text(
        "openapi: 3.1.0\nexample: 2024-01-31\nwhen: !!timestamp 2024-02-01\n"
        "enum: [on, off, yes, no, true, False]\n",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert doc == {
        "openapi": "3.1.0",
        "example": "2024-01-31",
        "when": "2024-02-01",
        "enum": ["on", "off", "yes", "no", True, False],  # YAML 1.2 booleans only
    }
    json.dumps(doc)  # nothing that JSON cannot hold


def test_load_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="does not exist"):
        load_document(tmp_path / "nope.json")


def test_load_broken_json_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{\n  "type": "object",\n}', encoding="utf-8")
    with pytest.raises(SchemaError, match=r"s\.json is not valid JSON \(line 3"):
        load_document(path)


def test_load_broken_yaml_gives_line(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "s.yaml"
    path.write_text("a: [1, 2\nb: c\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"s\.yaml is not valid YAML \(line"):
        load_document(path)


def test_load_rejects_non_object(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SchemaError, match="holds a list"):
        load_document(path)


def test_load_yaml_without_pyyaml_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("openapi: 3.1.0\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes "import yaml" fail
    with pytest.raises(SchemaError, match="pip install PyYAML"):
        load_document(path)


# --- extract_schema: the spec's traps ----------------------------------------------------------


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


# --- schema_from_document ----------------------------------------------------------------------


def test_schema_from_openapi_document_extracts() -> None:
    out = schema_from_document(openapi({"Req": {"type": "object"}}), "Req")
    assert out["$id"].endswith(":Req") and out["type"] == "object"


def test_schema_from_json_schema_document_is_returned() -> None:
    doc = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["model"],
    }
    assert schema_from_document(doc, "ignored") is doc


def test_invalid_json_schema_document_is_an_error() -> None:
    with pytest.raises(SchemaError, match="not a valid JSON Schema: at type"):
        schema_from_document({"type": "objekt"}, "Req")


# --- the command line and the shipped files ----------------------------------------------------


def test_main_writes_readable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = openapi(
        {
            "CreateChatCompletionRequest": {
                "type": "object",
                "required": ["model"],
                "properties": {"model": {"type": "string"}},
            },
            "CreateCompletionRequest": {
                "type": "object",
                "properties": {"b": {"type": "integer"}, "a": {"type": "integer"}},
            },
        }
    )
    spec_file = tmp_path / "mini.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    assert main([str(spec_file), str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "CreateCompletionRequest.schema.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and '\n "$schema"' in text  # indent=1
    schema = json.loads(text)
    assert list(schema["properties"]) == ["b", "a"]  # the spec's order, not sorted
    digest = hashlib.sha256(spec_file.read_bytes()).hexdigest()
    assert (
        "mini.json" in schema["$comment"]
        and "9.9.9" in schema["$comment"]
        and digest in schema["$comment"]
    )
    assert "CreateChatCompletionRequest.schema.json" in capsys.readouterr().out


def test_main_reports_errors_with_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "missing.yaml"), str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_shipped_schemas_pass_the_metaschema(name: str) -> None:
    schema = json.loads((SHIPPED / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"urn:knime-llm:2.3.0:{name}"


def test_regenerating_reproduces_the_shipped_files(tmp_path: Path) -> None:
    spec = SPEC_DIR / "openapi.yaml"
    if not spec.is_file():
        pytest.skip(f"{spec} is not available (only on the development machine)")
    pytest.importorskip("yaml")
    assert main([str(spec), str(tmp_path)]) == 0
    for name in REQUEST_SCHEMAS:
        fresh = (tmp_path / f"{name}.schema.json").read_bytes()
        assert fresh == (SHIPPED / f"{name}.schema.json").read_bytes(), (
            f"{name} differs: regenerate it"
        )


def test_2023_spec_gives_the_2023_verdicts(tmp_path: Path) -> None:
    spec = SPEC_DIR / "openapi-2023-12-22.yaml"
    if not spec.is_file():
        pytest.skip(f"{spec} is not available (only on the development machine)")
    pytest.importorskip("yaml")
    assert main([str(spec), str(tmp_path)]) == 0
    cases = json.loads(
        (REPO / "tests/data/openai_samples/requests.json").read_text(encoding="utf-8")
    )["cases"]
    for case in cases:
        schema = json.loads(
            (tmp_path / f"{case['schema']}.schema.json").read_text(encoding="utf-8")
        )
        assert valid(schema, case["body"]) is case["valid"]["2023-12-22"], case["name"]


def test_malformed_schema_in_spec_is_an_error() -> None:
    with pytest.raises(SchemaError, match="'A' in the spec is malformed"):
        extract_schema(openapi({"A": {"properties": ["a", "b"]}}), "A")
    with pytest.raises(SchemaError, match="expected a schema object"):
        extract_schema(openapi({"A": {"items": "string"}}), "A")
