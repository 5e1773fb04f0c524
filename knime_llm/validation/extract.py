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

:mod:`knime_llm.validation.spec` writes the shipped schemas with this extractor.
"""

from __future__ import annotations

import difflib
from typing import Any

from ..errors import SchemaError

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_COMPONENT_REF = "#/components/schemas/"

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
