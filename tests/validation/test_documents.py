"""Schema documents: OpenAPI specs and JSON Schemas read from JSON or YAML files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from knime_llm.errors import SchemaError
from knime_llm.validation.documents import load_document, schema_from_document
from tests.openapi_helpers import openapi

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


# --- schema_from_document -----------------------------------------------------------------------


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
