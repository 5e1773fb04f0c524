"""Shared machinery of the parameter double: value storage, the descriptor base class, visibility
rules, extension version, and the walk over a node's (or group's) parameters.

Values of a node (or bound group) live in the instance's ``__dict__`` under ``_VALUES`` -- a
plain dict with one entry per parameter and a nested dict per group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Dict, List, Optional

from knime.extension.version import Version

_VALUES = "_knime_double_parameter_values"
_extension_version: Optional[Version] = None


def set_extension_version(version: Any) -> None:
    """Set the extension version (KNIME does this from knime.yml) used by callable defaults."""
    global _extension_version
    _extension_version = Version.parse_version(version)


def _get_extension_version() -> Version:
    if _extension_version is None:
        raise RuntimeError("The extension version has not been set by the backend.")
    return _extension_version


def _store(obj: Any) -> Dict[str, Any]:
    """The value dict of a node instance or bound group, created on first use."""
    return obj.__dict__.setdefault(_VALUES, {})


def _is_group(obj: Any) -> bool:
    return getattr(type(obj), "__kind__", None) == "parameter_group"


def _is_parameter_or_group(obj: Any) -> bool:
    return isinstance(obj, _BaseParameter) or _is_group(obj)


def _get_parameters(obj: Any) -> Dict[str, Any]:
    """Parameters and groups declared on ``type(obj)`` and its bases, subclass first."""
    found: Dict[str, Any] = {}
    for cls in type(obj).__mro__[:-1]:
        for name, value in vars(cls).items():
            if name not in found and _is_parameter_or_group(value):
                found[name] = value
    return found


def _inject_parameters(obj: Any, values: Dict[str, Any], version: Version) -> None:
    if hasattr(obj, "_modify_parameters"):
        values = obj._modify_parameters(values)
    for name, param in _get_parameters(obj).items():
        if name in values:
            param._inject(obj, values[name], name, version)
        elif param._since_version > version:
            param._set_default_for_version(obj, name, version)


def _validate_parameters(obj: Any, values: Dict[str, Any], version: Version) -> None:
    for name, param in _get_parameters(obj).items():
        if param._since_version <= version:
            if name not in values:
                raise ValueError(f'Parameter missing for key "{name}".')
            param._validate(values[name], version)


def _validate_specs(obj: Any, specs: List[Any]) -> None:
    for param in _get_parameters(obj).values():
        param._validate_specs(specs)


def _object_schema(obj: Any, version: Version, ctx: Any) -> dict:
    return {"type": "object", "properties": {
        n: p._extract_schema(version, ctx)
        for n, p in _get_parameters(obj).items() if p._since_version <= version}}


class Condition(ABC):
    """Base of visibility-rule conditions (they only affect the dialog, never validation)."""

    @abstractmethod
    def _describe(self) -> Any: ...


class OneOf(Condition):
    """True when ``subject``'s value is one of ``values``."""

    def __init__(self, subject: Any, values: List[Any]) -> None:
        self._subject, self._values = subject, values

    def _describe(self) -> Any:
        return ("oneOf", self._subject, list(self._values))


class Contains(Condition):
    """True when ``subject``'s (list) value contains ``value``."""

    def __init__(self, subject: Any, value: Any) -> None:
        self._subject, self._value = subject, value

    def _describe(self) -> Any:
        return ("contains", self._subject, self._value)


class DialogContextCondition(Condition):
    """True when ``ctx_predicate(dialog_creation_context)`` is true."""

    def __init__(self, ctx_predicate: Callable[[Any], bool]) -> None:
        self._ctx_predicate = ctx_predicate

    def _describe(self) -> Any:
        return ("context", self._ctx_predicate)


class _Combined(Condition):
    _kind = ""

    def __init__(self, *conditions: Condition) -> None:
        if not conditions:
            raise ValueError(
                f"At least one condition is required in {type(self).__name__} condition.")
        self._conditions = conditions

    def _describe(self) -> Any:
        return (self._kind, [c._describe() for c in self._conditions])


class And(_Combined):
    """All conditions hold."""

    _kind = "AND"


class Or(_Combined):
    """At least one condition holds."""

    _kind = "OR"


class Effect(Enum):
    """What a rule does to its parameter when the condition holds."""

    SHOW = "SHOW"
    HIDE = "HIDE"
    ENABLE = "ENABLE"
    DISABLE = "DISABLE"


@dataclass
class Rule:
    """A condition and the effect it triggers."""

    condition: Condition
    effect: Effect


class LayoutDirection(Enum):
    """Layout of a group's parameters in the dialog."""

    VERTICAL = "VerticalLayout"
    HORIZONTAL = "HorizontalLayout"


def _no_check(value: Any) -> None:
    """Validator of parameters that accept anything."""


class _BaseParameter:
    """Descriptor base of all parameters; see the module docstring for the value semantics."""

    def __init__(self, label: Optional[str], description: Optional[str], default_value: Any,
                 validator: Optional[Callable[[Any], None]] = None, since_version: Any = None,
                 is_advanced: bool = False) -> None:
        self._label = label
        self.__doc__ = description if description is not None else ""
        self._default_value = default_value
        self._validator = validator if validator is not None else _no_check
        self._since_version = Version.parse_version(since_version)
        self._is_advanced = is_advanced
        self._rule: Optional[Rule] = None

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        if self._label is None:
            self._label = name

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        return self if obj is None else self._get_value(obj, self._name)

    def __set__(self, obj: Any, value: Any) -> None:
        self._set_value(obj, value, self._name)

    def _get_value(self, obj: Any, name: str) -> Any:
        values = _store(obj)
        if name not in values:
            values[name] = self._get_default()
        return values[name]

    def _set_value(self, obj: Any, value: Any, name: str) -> None:
        self._validate(value)
        _store(obj)[name] = value

    def _get_default(self, version: Optional[Version] = None) -> Any:
        if callable(self._default_value):
            return self._default_value(version if version is not None else _get_extension_version())
        return self._default_value

    def _validate(self, value: Any, version: Optional[Version] = None) -> None:
        self._validator(value)

    def _to_dict(self, value: Any) -> Any:
        return value

    def _from_dict(self, value: Any) -> Any:
        return value

    def _extract_value(self, obj: Any, name: str) -> Any:
        return self._to_dict(self._get_value(obj, name))

    def _inject(self, obj: Any, value: Any, name: str, version: Version) -> None:
        self._set_value(obj, self._from_dict(value), name)

    def _set_default_for_version(self, obj: Any, name: str, version: Version) -> None:
        self._set_value(obj, self._get_default(version), name)

    def _validate_specs(self, specs: List[Any]) -> None:
        pass

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        return {"title": self._label, "description": self.__doc__}

    def _extract_description(self, name: str, level: int) -> Any:
        return {"name": self._label, "description": self.__doc__}

    def validator(self, func: Callable[[Any], None]) -> None:
        """Decorator: make ``func`` this parameter's validator.

        Like KNIME, this *replaces* the built-in type/range check; the decorated name in the
        class body becomes ``None``.
        """
        self._validator = func

    def rule(self, condition: Condition, effect: Effect) -> "_BaseParameter":
        """Attach a dialog visibility rule and return the parameter itself."""
        self._rule = Rule(condition, effect)
        return self
