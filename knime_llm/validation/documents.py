"""Schemas as users give them: an OpenAPI spec or a JSON Schema, in a JSON or YAML file.

:func:`load_document` reads the file, and :func:`schema_from_document` gives the JSON Schema a
document stands for: a component extracted from an OpenAPI spec (see
:mod:`knime_llm.validation.extract`), or the document itself once it is checked against its
metaschema.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import SchemaError
from .extract import extract_schema

_YAML_BOOL = "tag:yaml.org,2002:bool"
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def load_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an OpenAPI spec or a JSON Schema from a ``.json``, ``.yaml`` or ``.yml`` file.

    Files not ending in ``.yaml``/``.yml`` are read as JSON. YAML dates stay strings (the spec has
    an unquoted example date that would otherwise become a ``datetime.date``).

    Args:
        path: The file to read.

    Returns:
        The document, a JSON object.

    Raises:
        SchemaError: the file is missing or unreadable, its content cannot be parsed, it is not a
            JSON object, or it is YAML and PyYAML is not installed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SchemaError(f"schema file {str(p)!r} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {str(p)!r}: {exc}") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        doc = _parse_yaml(text, p)
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(
                f"{p.name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                "give a .json, .yaml or .yml OpenAPI spec or JSON Schema"
            ) from None
    if not isinstance(doc, dict):
        raise SchemaError(
            f"{p.name} holds a {type(doc).__name__}, not an OpenAPI spec or JSON Schema object"
        )
    return doc


def _parse_yaml(text: str, path: Path) -> Any:
    try:
        import yaml  # only YAML needs it; JSON users need not install PyYAML
    except ImportError:
        raise SchemaError(
            f"reading {path.name} needs PyYAML: pip install PyYAML (or give the spec as .json)"
        ) from None

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster on the 3 MB spec

    class _Loader(base):  # type: ignore[misc, valid-type]
        pass

    # Keep timestamps as the strings they are written as: dates are not JSON.
    _Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    # OpenAPI is YAML 1.2, where only true/false are booleans; PyYAML speaks 1.1, which would
    # turn an enum value such as `on`, `off`, `yes` or `no` into a boolean.
    _Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _YAML_BOOL]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    _Loader.add_implicit_resolver(_YAML_BOOL, _YAML12_BOOL, list("tTfF"))
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SchemaError(f"{path.name} is not valid YAML{where}: {problem}") from None


def is_openapi(doc: dict[str, Any]) -> bool:
    """Tell an OpenAPI document (``openapi`` and ``components`` at the top) from a JSON Schema."""
    return "openapi" in doc and "components" in doc


def schema_from_document(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the JSON Schema a document stands for.

    Args:
        doc: An OpenAPI document, or a JSON Schema.
        name: The component to extract when ``doc`` is an OpenAPI document; otherwise unused.

    Returns:
        The extracted schema, or ``doc`` itself when it is a JSON Schema.

    Raises:
        SchemaError: the OpenAPI document lacks ``name``, or ``doc`` is not a valid JSON Schema.
    """
    if is_openapi(doc):
        return extract_schema(doc, name)
    if "swagger" in doc:
        raise SchemaError(
            "Swagger 2.0 documents are not supported; give an OpenAPI 3 spec or a JSON Schema"
        )
    from jsonschema import Draft202012Validator, exceptions, validators

    cls = validators.validator_for(doc, default=Draft202012Validator)
    try:
        cls.check_schema(doc)
    except exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise SchemaError(
            f"the file is not a valid JSON Schema: at {where}: {exc.message}"
        ) from None
    return doc
