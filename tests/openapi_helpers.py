"""Helpers shared by the tests of schema extraction, schema documents and the spec command."""

from __future__ import annotations

import jsonschema

from knime_llm.validation import BodyValidator


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
