"""Turn the error tree of Python ``jsonschema`` into one line a user can act on.

A body usually breaks one rule, but ``oneOf``/``anyOf`` in the OpenAI schema turn that into
"is not valid under any of the given schemas" with a dozen nested reasons. The formatter picks the
alternative the user meant: an alternative whose ``type`` does not fit the value, or whose
discriminator (a direct child such as ``role`` or ``type`` held to a const/enum) does not fit, is a
mismatch; the formatter follows the best alternative that is not, and when every alternative is a
mismatch it merges what they allow into one statement::

    messages[0].role: 'bot' is not one of ['developer', 'system', 'user', 'assistant', ...]
    temperature: 'hot' is not of type 'number' or 'null'
    messages[0].content[0].text: required property is missing
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jsonschema.exceptions import ValidationError

ROOT = "(body)"
_LIMIT = 60  # characters of a value shown; cells can hold kilobytes
_MAX_VALUES = 12  # allowed values listed before "… N more"
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$-]*\Z")
_COMBINATORS = ("anyOf", "oneOf")
_SIZES = {
    "minItems": ("item", "items"),
    "maxItems": ("item", "items"),
    "minLength": ("character", "characters"),
    "maxLength": ("character", "characters"),
    "minProperties": ("property", "properties"),
    "maxProperties": ("property", "properties"),
}


def format_path(path: Iterable[str | int]) -> str:
    """Write a JSON location as users read it: ``messages[0].content``, ``(body)`` for the root."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}" if out else part
        else:
            out += "[" + _show(part) + "]"
    return out or ROOT


def describe(errors: Iterable[ValidationError]) -> str | None:
    """One line, ``<where>: <what>``, for the most telling of a body's errors.

    Args:
        errors: The errors Python ``jsonschema`` found in one instance (``iter_errors``).

    Returns:
        The line, or None when there are no errors.
    """
    found = list(errors)
    if not found:
        return None
    path, text = _explain(_pick(found))
    return f"{format_path(path)}: {text}"


@dataclass
class _Fit:
    """How one alternative of an anyOf/oneOf failed."""

    errors: list[ValidationError]
    types: list[str] | None = None  # set: the value's own type is wrong here
    child: str | int | None = None  # set: this direct child's const/enum (a discriminator) is wrong
    child_values: list[Any] = field(default_factory=list)
    own_values: list[Any] | None = None  # set: only a const/enum on the value itself failed

    @property
    def severity(self) -> int:
        return 2 if self.types is not None else 1 if self.child is not None else 0

    @property
    def rank(self) -> tuple[int, int]:
        # The alternative the user most likely meant: fewest errors, reaching deepest.
        return len(self.errors), -max(len(e.relative_path) for e in self.errors)


@dataclass
class _Verdict:
    """What a failed anyOf/oneOf amounts to."""

    descend: list[ValidationError] | None = None  # explain these errors of the chosen alternative
    types: list[str] | None = None  # none of the alternatives takes the value's type
    child: str | int | None = None  # every alternative rejects this child's value...
    values: list[Any] | None = None  # ...or the value itself (child None); allowed values merged


def _pick(errors: Sequence[ValidationError]) -> ValidationError:
    # Shallowest first (a missing or mistyped parent explains its children), plain keywords before
    # combinators at the same depth; otherwise the schema's order.
    return min(errors, key=lambda e: (len(e.relative_path), e.validator in _COMBINATORS))


def _explain(error: ValidationError) -> tuple[list[str | int], str]:
    path = list(error.absolute_path)
    if error.validator not in _COMBINATORS:
        return _leaf(error, path)
    if not error.context:  # oneOf with several matching alternatives
        return path, f"{_show(error.instance)} matches more than one of the allowed forms"
    verdict = _resolve(error)
    if verdict.descend is not None:
        return _explain(_pick(verdict.descend))
    if verdict.types is not None:
        return path, f"{_show(error.instance)} is not of type {_types(verdict.types)}"
    value = error.instance
    if verdict.child is not None:
        path, value = [*path, verdict.child], value[verdict.child]
    return path, f"{_show(value)} is not one of {_values(verdict.values or [])}"


def _resolve(error: ValidationError) -> _Verdict:
    branches: dict[Any, list[ValidationError]] = {}
    for e in error.context or ():
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    fits = [_fit(errs) for errs in branches.values()]
    fitting = [f for f in fits if f.severity == 0]
    if fitting:
        if all(f.own_values is not None for f in fitting):
            return _Verdict(values=_merge(f.own_values or [] for f in fitting))
        return _Verdict(descend=min(fitting, key=lambda f: f.rank).errors)
    by_child = [f for f in fits if f.severity == 1]
    if by_child:
        if len({repr(f.child) for f in by_child}) == 1:
            return _Verdict(
                child=by_child[0].child, values=_merge(f.child_values for f in by_child)
            )
        return _Verdict(descend=min(by_child, key=lambda f: f.rank).errors)
    return _Verdict(types=_merge(f.types or [] for f in fits))


def _fit(errors: list[ValidationError]) -> _Fit:
    fit = _Fit(errors)
    own_values: list[Any] = []
    only_own_values = True
    for e in errors:
        where = e.relative_path
        if not where and e.validator == "type":
            fit.types = _as_list(e.validator_value)
        elif not where and e.validator in _COMBINATORS and e.context:
            inner = _resolve(e)
            if inner.types is not None:
                fit.types = inner.types
            elif inner.child is not None and fit.child is None:
                fit.child, fit.child_values = inner.child, inner.values or []
            elif inner.values is not None and inner.child is None:
                own_values.extend(inner.values)
                continue
        elif len(where) == 1 and e.validator in ("const", "enum") and fit.child is None:
            fit.child, fit.child_values = where[0], _allowed(e)
        elif not where and e.validator in ("const", "enum"):
            own_values.extend(_allowed(e))
            continue
        only_own_values = False
    if only_own_values:
        fit.own_values = own_values
    return fit


def _leaf(error: ValidationError, path: list[str | int]) -> tuple[list[str | int], str]:
    kw, limit, value = error.validator, error.validator_value, error.instance
    shown = _show(value)
    if kw == "required" and isinstance(value, dict):
        missing = next((n for n in limit if n not in value), None)
        if missing is not None:
            return [*path, missing], "required property is missing"
    if kw == "type":
        return path, f"{shown} is not of type {_types(_as_list(limit))}"
    if kw in ("enum", "const"):
        return path, f"{shown} is not one of {_values(_allowed(error))}"
    if kw == "additionalProperties" and isinstance(value, dict):
        extra = _unexpected(value, error.schema)
        if extra is not None:
            return [*path, extra], "unexpected property; the schema allows no other properties here"
    texts = {
        "minimum": f"{shown} is less than the minimum of {limit}",
        "maximum": f"{shown} is greater than the maximum of {limit}",
        "exclusiveMinimum": f"{shown} must be greater than {limit}",
        "exclusiveMaximum": f"{shown} must be less than {limit}",
        "multipleOf": f"{shown} is not a multiple of {limit}",
        "pattern": f"{shown} does not match the pattern {_show(limit)}",
        "uniqueItems": f"{shown} has duplicate items",
        "not": f"{shown} is a value that is not allowed here",
    }
    if kw in texts:
        return path, texts[kw]
    if kw in _SIZES:
        unit, units = _SIZES[kw]
        bound = "at least" if kw.startswith("min") else "at most"
        need = "required" if kw.startswith("min") else "allowed"
        size = len(value)
        if not size:
            return path, f"{shown} is empty; {bound} {limit} {unit if limit == 1 else units} {need}"
        return path, f"{shown} has {size} {unit if size == 1 else units}; {bound} {limit} {need}"
    return path, _clip(error.message, 2 * _LIMIT)


def _unexpected(value: dict[str, Any], schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return None
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for name in value:
        if name not in known and not any(re.search(p, name) for p in patterns):
            return name
    return None


def _allowed(error: ValidationError) -> list[Any]:
    return [error.validator_value] if error.validator == "const" else list(error.validator_value)


def _as_list(types: Any) -> list[str]:
    return [types] if isinstance(types, str) else list(types)


def _merge(groups: Iterable[Iterable[Any]]) -> list[Any]:
    out: list[Any] = []
    for group in groups:
        for item in group:
            # 1 == True in Python, but not in JSON: compare with the type
            if not any(type(item) is type(seen) and item == seen for seen in out):
                out.append(item)
    return out


def _types(types: Sequence[str]) -> str:
    quoted = [f"'{t}'" for t in types]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _values(values: Sequence[Any]) -> str:
    shown = [_show(v) for v in values[:_MAX_VALUES]]
    if len(values) > _MAX_VALUES:
        shown.append(f"… {len(values) - _MAX_VALUES} more")
    return "[" + ", ".join(shown) + "]"


def _clip(text: str, limit: int = _LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: Any, limit: int = _LIMIT) -> str:
    """A short JSON-like rendering: strings quoted as in Python, null/true/false as in JSON."""
    parts: list[str] = []
    _render(value, parts, limit + 1)
    return _clip("".join(parts), limit)


def _render(value: Any, parts: list[str], budget: int) -> int:
    # Stops once the budget is spent, so a multi-megabyte cell costs no more than a short one.
    if budget <= 0:
        return budget
    if isinstance(value, str):
        text = repr(value[:budget])
    elif value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    elif isinstance(value, dict):
        parts.append("{")
        budget -= 1
        for i, (k, v) in enumerate(value.items()):
            if budget <= 0:
                return budget
            parts.append((", " if i else "") + repr(str(k)[:budget]) + ": ")
            budget = _render(v, parts, budget - len(parts[-1]))
        parts.append("}")
        return budget - 1
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        budget -= 1
        for i, v in enumerate(value):
            if budget <= 0:
                return budget
            if i:
                parts.append(", ")
                budget -= 2
            budget = _render(v, parts, budget)
        parts.append("]")
        return budget - 1
    else:
        text = repr(value)
    parts.append(text)
    return budget - len(text)
