"""The command that regenerates the shipped schemas from the spec, and the shipped files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from knime_llm.validation.spec import main
from tests.openapi_helpers import openapi, valid

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "knime_llm" / "validation" / "openai"
SPEC_DIR = Path("/work/shared/openai-spec")
REQUEST_SCHEMAS = ("CreateChatCompletionRequest", "CreateCompletionRequest")


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
