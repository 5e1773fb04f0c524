"""Turn request schemas of the OpenAI OpenAPI spec into standalone JSON Schemas (draft 2020-12).

The spec is written for humans and code generators, not for validators, and has traps that make a
naive validator reject bodies the API accepts (or accept bodies it rejects):

* ``nullable: true`` is an OpenAPI 3.0 keyword that 2020-12 validators ignore, yet the 3.1 spec
  still uses it, so ``"stop": null`` would fail; it is converted to JSON Schema null-ability.
* OpenAPI 3.0 writes ``exclusiveMinimum: true`` next to ``minimum``; 2020-12 wants the number.
* ``$ref`` points into ``components/schemas``; every reference is inlined so one file stands
  alone, and a reference back into a schema being inlined becomes a local ``$defs`` reference.
* Only keywords that validate are kept. Annotations (``description``, ``default``, ``format``,
  which is annotation-only in 2020-12, ...), OpenAPI-only keywords and ``x-*`` extensions go;
  names of properties never do, even when a property is called ``description`` or ``x-foo``.

The shipped schemas in ``knime_llm/schemas`` are generated from the spec with::

    python -m knime_llm.spec /work/shared/openai-spec/openapi.yaml knime_llm/schemas

which rewrites ``CreateChatCompletionRequest.schema.json`` and
``CreateCompletionRequest.schema.json`` (more names may follow the output folder). Files keep
the spec's key order and are indented by one space, so a diff against a newer spec shows what
changed.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from .errors import KnimeLlmError, SchemaError
from .settings import Endpoint

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_COMPONENT_REF = "#/components/schemas/"
_YAML_BOOL = "tag:yaml.org,2002:bool"
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")

# Keywords whose value is a map from *names* to schemas: the names are data, never filtered.
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
# fmt: off
_ONE_SCHEMA = frozenset({
    "items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
    "unevaluatedItems", "unevaluatedProperties",
})
# Keywords that validate with a plain value (copied as they are).
_VALUE_KEYWORDS = frozenset({
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxContains", "minContains", "maxProperties", "minProperties", "required", "dependentRequired",
})
# fmt: on
# Applicators that look at the same instance. A $ref cycle through only these never reaches a
# value and would loop forever in a validator; every other applicator moves into a child.
_IN_PLACE = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas"})
# Keywords besides "type" that can reject null; a nullable schema holding one needs anyOf.
_NULL_REJECTING = _IN_PLACE | {"const", "$ref"}


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


def extract_schema(
    spec: dict[str, Any], name: str, *, comment: str | None = None
) -> dict[str, Any]:
    """Extract ``components/schemas/<name>`` as a standalone draft 2020-12 JSON Schema.

    Args:
        spec: An OpenAPI 3.0 or 3.1 document.
        name: The component's name, e.g. ``CreateChatCompletionRequest``.
        comment: Optional provenance, stored as the top-level ``$comment``.

    Returns:
        A new schema with ``$schema``, ``$id`` (``urn:knime-llm:<info.version>:<name>``), every
        component reference inlined, recursive ones under ``$defs``, and only validating keywords.

    Raises:
        SchemaError: ``name`` (or a schema it refers to) is not in the spec, a ``$ref`` points
            outside ``components/schemas``, or references form a cycle that never reaches a value.
    """
    components = spec.get("components", {}).get("schemas")
    if not isinstance(components, dict):
        raise SchemaError("the OpenAPI document has no components/schemas section")
    if name not in components:
        close = difflib.get_close_matches(name, list(components), n=5, cutoff=0.6)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise SchemaError(f"schema {name!r} is not in the spec's components/schemas{hint}")
    try:
        body = _Extractor(components, name).run()
    except (AttributeError, TypeError) as exc:  # e.g. "properties" holding a list
        raise SchemaError(f"schema {name!r} in the spec is malformed: {exc}") from None
    version = str(spec.get("info", {}).get("version", "unknown"))
    out: dict[str, Any] = {"$schema": DIALECT, "$id": f"urn:knime-llm:{version}:{name}"}
    if comment:
        out["$comment"] = comment
    out.update(body)
    return out


class _Extractor:
    """Inline the references of one component; remembers which ones recurse and need ``$defs``."""

    def __init__(self, components: dict[str, Any], root: str) -> None:
        self.components = components
        self.root = root
        self.defs: dict[str, Any] = {}
        # (component name, instance depth when entered, has $recursiveAnchor) per open $ref
        self.stack: list[tuple[str, int, bool]] = []

    def run(self) -> dict[str, Any]:
        body = self.component(self.root, 0)
        pending = [n for n in self.defs if self.defs[n] is None]
        while pending:  # a def may itself reach new recursive components
            for name in pending:
                self.stack = []
                self.defs[name] = self.component(name, 0)
            pending = [n for n in self.defs if self.defs[n] is None]
        if isinstance(body, bool):
            body = {} if body else {"not": {}}
        if self.defs:
            body = {**body, "$defs": self.defs}
        return body

    def component(self, name: str, depth: int) -> Any:
        if name not in self.components:
            raise SchemaError(f"$ref to {name!r}, which is not in the spec's components/schemas")
        target = self.components[name]
        anchor = isinstance(target, dict) and target.get("$recursiveAnchor") is True
        self.stack.append((name, depth, anchor))
        try:
            return self.schema(target, depth)
        finally:
            self.stack.pop()

    def ref(self, name: str, depth: int) -> Any:
        """Inline component ``name``, or refer to it locally when it is already being inlined."""
        for open_name, open_depth, _ in self.stack:
            if open_name != name:
                continue
            if open_depth == depth:
                chain = " -> ".join([n for n, _, _ in self.stack] + [name])
                raise SchemaError(f"circular $ref that never reaches a value: {chain}")
            if name == self.root:
                return {"$ref": "#"}
            self.defs.setdefault(name, None)  # filled in by run()
            return {"$ref": "#/$defs/" + name.replace("~", "~0").replace("/", "~1")}
        return self.component(name, depth)

    def schema(self, node: Any, depth: int) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SchemaError(f"expected a schema object in the spec, found {node!r:.60}")
        target = None
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith(_COMPONENT_REF):
                raise SchemaError(
                    f"unsupported $ref {ref!r}: only #/components/schemas/<name> is supported"
                )
            target = self.ref(
                ref[len(_COMPONENT_REF) :].replace("~1", "/").replace("~0", "~"), depth
            )
        elif "$recursiveRef" in node:  # 2019-09 recursion, used by the spec's CompoundFilter
            target = self.recursive_ref(node["$recursiveRef"], depth)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "required" and isinstance(value, list):
                out[key] = list(dict.fromkeys(value))  # the spec repeats names in a few places
            elif key in _VALUE_KEYWORDS:
                out[key] = value
            elif key in _NAMED_SCHEMAS:
                moves = key != "dependentSchemas"
                out[key] = {n: self.schema(s, depth + moves) for n, s in value.items()}
            elif key in _SCHEMA_LISTS:
                moves = key == "prefixItems"
                out[key] = [self.schema(s, depth + moves) for s in value]
            elif key in _ONE_SCHEMA:
                if key == "items" and isinstance(value, list):  # tuple form before 2020-12
                    out["prefixItems"] = [self.schema(s, depth + 1) for s in value]
                else:
                    out[key] = self.schema(value, depth + (key not in _IN_PLACE))
            # everything else is an annotation, an OpenAPI-only keyword or an x- extension
        _fix_exclusive_bounds(out)
        if target is not None:
            out = _merge_ref(target, out)
        if node.get("nullable") is True:
            out = _make_nullable(out)
        return out

    def recursive_ref(self, value: Any, depth: int) -> Any:
        if value == "#":
            for name, _, anchor in reversed(self.stack):
                if anchor:
                    return self.ref(name, depth)
        raise SchemaError(
            f"unsupported $recursiveRef {value!r} outside a schema with $recursiveAnchor"
        )


def _merge_ref(target: Any, siblings: dict[str, Any]) -> Any:
    """Combine an inlined ``$ref`` target with the validating keywords written next to it."""
    if not siblings:
        return target
    return {**siblings, "allOf": [target, *siblings.get("allOf", [])]}


def _fix_exclusive_bounds(schema: dict[str, Any]) -> None:
    """Turn OpenAPI 3.0's ``exclusiveMinimum: true`` + ``minimum: m`` into ``exclusiveMinimum: m``.

    2020-12 (and the 3.1 metaschema) want the number; ``false`` or a flag without bound is dropped.
    """
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = schema.get(flag)
        if isinstance(value, bool):
            if value and bound in schema:
                schema[flag] = schema.pop(bound)
            else:
                del schema[flag]


def _make_nullable(schema: Any) -> Any:
    """Let ``schema`` also accept null, the way OpenAPI's ``nullable: true`` means it."""
    if schema is True or schema == {}:
        return schema
    if schema is False:
        return {"type": "null"}
    kind = schema.get("type")
    if kind is not None and not (_NULL_REJECTING & schema.keys()):
        kinds = [kind] if isinstance(kind, str) else list(kind)
        out = dict(schema)
        if "null" not in kinds:
            out["type"] = [*kinds, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def _provenance(spec_path: Path, spec: dict[str, Any]) -> str:
    digest = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    version = spec.get("info", {}).get("version", "unknown")
    return (
        f"Generated by knime_llm.spec from {spec_path.name} (OpenAPI {spec.get('openapi', '?')}, "
        f"info.version {version}, sha256 {digest}); do not edit, regenerate instead."
    )


def write_schemas(
    spec_path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    names: list[str] | None = None,
) -> list[Path]:
    """Extract schemas from a spec file and write ``<outdir>/<name>.schema.json`` for each.

    Args:
        spec_path: The OpenAPI spec (.yaml, .yml or .json).
        outdir: Folder to write to; created when missing.
        names: Components to extract; by default the request schemas of every :class:`Endpoint`.

    Returns:
        The files written.

    Raises:
        SchemaError: the spec cannot be read or lacks a name, or a result fails the metaschema.
    """
    from jsonschema import Draft202012Validator, exceptions

    spec_file = Path(spec_path)
    spec = load_document(spec_file)
    if not is_openapi(spec):
        raise SchemaError(
            f"{spec_file.name} is not an OpenAPI document (no 'openapi'/'components')"
        )
    comment = _provenance(spec_file, spec)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or [e.schema_name for e in Endpoint]:
        schema = extract_schema(spec, name, comment=comment)
        try:
            Draft202012Validator.check_schema(schema)
        except exceptions.SchemaError as exc:
            raise SchemaError(
                f"extracted {name} fails the 2020-12 metaschema: {exc.message}"
            ) from None
        target = out / f"{name}.schema.json"
        target.write_text(json.dumps(schema, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m knime_llm.spec SPEC OUTDIR [NAME ...]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m knime_llm.spec",
        description="Extract standalone JSON Schemas (draft 2020-12) from the OpenAI OpenAPI spec.",
    )
    parser.add_argument("spec", help="the OpenAPI spec, .yaml/.yml or .json")
    parser.add_argument("outdir", help="folder for <Name>.schema.json, e.g. knime_llm/schemas")
    parser.add_argument(
        "names", nargs="*", help="components to extract (default: the request schemas)"
    )
    args = parser.parse_args(argv)
    try:
        for path in write_schemas(args.spec, args.outdir, args.names or None):
            print(path)
    except KnimeLlmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
