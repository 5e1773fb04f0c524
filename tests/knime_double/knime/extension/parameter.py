"""Test double of ``knime.extension.parameter``: node settings as class-level descriptors.

Semantics mirrored from KNIME (see /work/shared/notes/knime-api.md §2.3): values live per node
instance, unset values read as the default; assignment validates at once (``TypeError`` for a
wrong type, ``ValueError`` for a bad value); a ``@param.validator`` *replaces* the type/range
checks of Int/Double/String/Bool/Multiline parameters but is *combined* with the member check of
``EnumParameter``; settings travel as ``{"model": {name: value, group: {...}}}``.

Kept to what KNIME 5.5 offers: no ``StringParameter.Choice``/static ``choices`` lists (5.8), no
enum-member defaults or ``hidden_choices`` (5.10). Parameter groups live in ``_groups``.
"""

from __future__ import annotations

import numbers
from enum import Enum
from typing import Any, Callable, List, Optional

from knime.api import schema as ks
from knime.extension._groups import parameter_group
from knime.extension._parameter_base import (
    And, Condition, Contains, DialogContextCondition, Effect, LayoutDirection, OneOf, Or, Rule,
    _BaseParameter, _get_extension_version, _get_parameters, _inject_parameters, _is_group,
    _object_schema, _validate_parameters, _validate_specs, set_extension_version,
)
from knime.extension.version import Version

__all__ = [
    "IntParameter", "DoubleParameter", "BoolParameter", "StringParameter",
    "MultilineStringParameter", "EnumParameterOptions", "EnumParameter", "ColumnParameter",
    "parameter_group", "Condition", "OneOf", "And", "Or", "Contains", "DialogContextCondition",
    "Effect", "Rule", "LayoutDirection", "Version", "extract_parameters", "inject_parameters",
    "validate_parameters", "validate_specs", "extract_schema", "extract_parameter_descriptions",
    "set_extension_version",
]
_ = _get_extension_version  # part of the real module's surface (callable defaults use it)


class _NumericParameter(_BaseParameter):
    def __init__(self, label, description, default_value, validator, min_value, max_value,
                 since_version, is_advanced) -> None:
        self.min_value = min_value
        self.max_value = max_value
        super().__init__(label, description, default_value,
                         validator if validator is not None else self._default_validator,
                         since_version, is_advanced)

    def _check_type(self, value: Any) -> None:
        raise NotImplementedError

    def _default_validator(self, value: Any) -> None:
        self._check_type(value)
        if self.min_value is not None and value < self.min_value:
            raise ValueError(f"{value} is smaller than the minimal value {self.min_value}")
        if self.max_value is not None and value > self.max_value:
            raise ValueError(f"{value} is > the max value {self.max_value}")


class IntParameter(_NumericParameter):
    """Integer setting with optional inclusive ``min_value``/``max_value``."""

    def __init__(self, label: Optional[str] = None, description: Optional[str] = None,
                 default_value: Any = 0, validator: Optional[Callable] = None,
                 min_value: Optional[int] = None, max_value: Optional[int] = None,
                 since_version: Any = None, is_advanced: bool = False) -> None:
        super().__init__(label, description, default_value, validator, min_value, max_value,
                         since_version, is_advanced)

    def _check_type(self, value: Any) -> None:
        if not isinstance(value, int):  # bool passes, as in KNIME
            raise TypeError(f"{value} is of type {type(value)}, but should be of type int.")

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        return {**super()._extract_schema(version, ctx), "type": "integer", "format": "int32"}


class DoubleParameter(_NumericParameter):
    """Floating point setting; any number (ints too) is accepted."""

    def __init__(self, label: Optional[str] = None, description: Optional[str] = None,
                 default_value: Any = 0.0, validator: Optional[Callable] = None,
                 min_value: Optional[float] = None, max_value: Optional[float] = None,
                 since_version: Any = None, is_advanced: bool = False) -> None:
        super().__init__(label, description, default_value, validator, min_value, max_value,
                         since_version, is_advanced)

    def _check_type(self, value: Any) -> None:
        if not isinstance(value, numbers.Number):
            raise TypeError(f"{value} is of type {type(value)}, but should be a number.")

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        return {**super()._extract_schema(version, ctx), "format": "double", "type": "number"}


class BoolParameter(_BaseParameter):
    """Boolean setting (only real ``bool`` values are accepted)."""

    def __init__(self, label: Optional[str] = None, description: Optional[str] = None,
                 default_value: Any = False, validator: Optional[Callable] = None,
                 since_version: Any = None, is_advanced: bool = False) -> None:
        super().__init__(label, description, default_value,
                         validator if validator is not None else self._default_validator,
                         since_version, is_advanced)

    def _default_validator(self, value: Any) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"{value} is not a boolean")

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        return {**super()._extract_schema(version, ctx), "type": "boolean"}


def _check_str(value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{value} is of type {type(value)}, but should be of type string.")


class StringParameter(_BaseParameter):
    """String setting; ``enum`` (static list) or ``choices`` (callable(ctx) -> list of str) only
    shape the dialog: like KNIME, assignment checks the type, not membership."""

    def __init__(self, label: Optional[str] = None, description: Optional[str] = None,
                 default_value: Any = "", enum: Optional[List[str]] = None,
                 validator: Optional[Callable] = None, since_version: Any = None,
                 is_advanced: bool = False, choices: Optional[Callable] = None) -> None:
        if enum is not None and not isinstance(enum, list):
            raise TypeError("The enum parameter must be a list.")
        if enum and choices:
            raise ValueError("Cannot specify both enum and choices")
        if choices is not None and not callable(choices):
            raise TypeError("choices must be a callable taking the DialogCreationContext "
                            "(static choice lists need KNIME 5.8; use enum=[...] instead)")
        self._enum = enum
        self._choices = choices
        super().__init__(label, description, default_value,
                         validator if validator is not None else _check_str,
                         since_version, is_advanced)

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        schema = super()._extract_schema(version, ctx)
        values = list(self._choices(ctx)) if self._choices and ctx else self._enum
        if values:
            schema["oneOf"] = [{"const": v, "title": v} for v in values]
        else:
            schema["type"] = "string"
        return schema


class MultilineStringParameter(_BaseParameter):
    """Multi-line string setting shown as a text area of ``number_of_lines`` rows."""

    def __init__(self, label: Optional[str] = None, description: Optional[str] = None,
                 default_value: Any = "", validator: Optional[Callable] = None,
                 since_version: Any = None, is_advanced: bool = False,
                 number_of_lines: int = 3) -> None:
        if not isinstance(number_of_lines, int):
            raise TypeError(f"number_of_lines must be an int, got {type(number_of_lines)}")
        if number_of_lines <= 0:
            raise ValueError("number_of_lines must be a positive integer")
        self._number_of_lines = number_of_lines
        super().__init__(label, description, default_value,
                         validator if validator is not None else _check_str,
                         since_version, is_advanced)

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        return {**super()._extract_schema(version, ctx), "type": "string"}


class EnumParameterOptions(Enum):
    """Base for option sets: members are ``NAME = (label, description)``."""

    def __init__(self, label: str, description: str) -> None:
        self.label = label
        self.description = description

    @classmethod
    def get_all_options(cls) -> List[str]:
        """Member names, in declaration order."""
        return list(cls.__members__)

    @classmethod
    def _options_description(cls, doc: str) -> str:
        lines = doc.expandtabs().splitlines()
        indents = [len(x) - len(x.lstrip()) for x in lines[1:] if x.strip()]
        pad = " " * (min(indents) if indents else 0)
        items = "".join(f"{pad}- {m.label}: {m.description}\n" for m in cls)
        return f"{doc.expandtabs()}\n\n{pad}**Available options:**\n\n{items}"


class _DefaultOption(EnumParameterOptions):
    DEFAULT_OPTION = ("Default", "This is the default option, since additional options "
                                 "have not been provided.")


class EnumParameter(_BaseParameter):
    """Single choice among the members of an ``EnumParameterOptions`` subclass; the value is the
    member *name* (a str)."""

    class Style(Enum):
        """How the dialog renders the choice."""

        RADIO = "radio"
        VALUE_SWITCH = "valueSwitch"
        DROPDOWN = "string"

    def __init__(self, label: Optional[str] = None, description: Optional[str] = None,
                 default_value: Any = None, enum: Optional[type] = None,
                 validator: Optional[Callable] = None, since_version: Any = None,
                 is_advanced: bool = False, style: Optional["EnumParameter.Style"] = None) -> None:
        if validator is not None:
            # KNIME (5.5 ... 5.11) fails here too: the constructor calls a missing helper.
            raise AttributeError("'EnumParameter' object has no attribute '_add_default_validator'"
                                 " (pass no validator=; use @param.validator instead)")
        if enum is None or not enum.get_all_options():
            enum, default_value = _DefaultOption, "DEFAULT_OPTION"
        elif default_value is None:
            # KNIME evaluates `get_all_options()[0].name` on a str and fails the same way.
            raise AttributeError("'str' object has no attribute 'name' "
                                 "(EnumParameter needs an explicit default_value)")
        elif isinstance(default_value, EnumParameterOptions):
            raise TypeError("Enum member defaults need KNIME 5.10; pass the member's .name")
        self._enum = enum
        self._style = style
        super().__init__(label, description, default_value, self._default_validator,
                         since_version, is_advanced)

    def _default_validator(self, value: Any) -> None:
        names = self._enum.get_all_options()
        if value not in names:
            raise ValueError(f"The selection '{value}' for parameter '{self._label}' is not one "
                             f"of the available options: {', '.join(repr(n) for n in names)}.")

    def validator(self, func: Callable[[Any], None]) -> None:
        """Add ``func`` after the member check (enum validators are combined, not replaced)."""
        def combined(value: Any) -> None:
            self._default_validator(value)
            func(value)
        self._validator = combined

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        schema = super()._extract_schema(version, ctx)
        schema["description"] = self._enum._options_description(self.__doc__)
        schema["oneOf"] = [{"const": m.name, "title": m.label} for m in self._enum]
        return schema

    def _extract_description(self, name: str, level: int) -> dict:
        return {"name": self._label, "description": self._enum._options_description(self.__doc__)}


class ColumnParameter(_BaseParameter):
    """Column name of the table at ``port_index``. As in KNIME 5.5, no column is ``None`` in the
    settings too, and ``""`` read from settings means none (5.9 stores ``""``)."""

    NONE = "<none>"

    def __init__(self, label: Optional[str] = None, description: Optional[str] = None,
                 port_index: int = 0, column_filter: Optional[Callable] = None,
                 include_row_key: bool = False, include_none_column: bool = False,
                 since_version: Any = None, is_advanced: bool = False,
                 schema_provider: Optional[Callable] = None, default_value: Any = None) -> None:
        super().__init__(label, description, default_value, None, since_version, is_advanced)
        self._port_index = port_index if schema_provider is None else None
        self._column_filter = column_filter or (lambda column: True)
        self._schema_provider = schema_provider
        self._include_row_key = include_row_key
        self._include_none_column = include_none_column

    def _from_dict(self, value: Any) -> Any:
        return None if value == "" else value

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        return {**super()._extract_schema(version, ctx), "type": "string"}

    def _validate_specs(self, specs: List[Any]) -> None:
        if self._port_index is None:
            return
        if len(specs) <= self._port_index:
            raise ValueError(f"There are too few input specs. The column selection "
                             f"'{self._name}' requires a table input at index {self._port_index}")
        spec = specs[self._port_index]
        if spec is not None and not isinstance(spec, ks.Schema):
            raise TypeError(f"The port index ({self._port_index}) of the column selection "
                            f"'{self._name}' does not point to a table input.")


def extract_parameters(obj: Any, for_dialog: bool = False) -> dict:
    """Current settings of a node (or group) as ``{"model": {...}}``, defaults filled in."""
    return {"model": {n: p._extract_value(obj, n) for n, p in _get_parameters(obj).items()}}


def inject_parameters(obj: Any, parameters: dict, parameters_version: Any = None,
                      exclude_validations: bool = False) -> None:
    """Set values from ``{"model": {...}}``; absent keys keep their value, except parameters
    newer than ``parameters_version``, which get their default for that version.

    Raises:
        TypeError, ValueError: a value fails its parameter's validation.
    """
    _inject_parameters(obj, parameters["model"], Version.parse_version(parameters_version))


def validate_parameters(obj: Any, parameters: dict, saved_version: Any = None) -> None:
    """Validate ``{"model": {...}}`` without applying it (KNIME's check before loading).

    Raises:
        ValueError: a key of a parameter not newer than ``saved_version`` is missing
            (``Parameter missing for key "<name>".``), or a value/group validator fails.
        TypeError: a value has the wrong type.
    """
    _validate_parameters(obj, parameters["model"], Version.parse_version(saved_version))


def validate_specs(obj: Any, specs: List[Any]) -> None:
    """Check that column parameters point at table inputs (KNIME does this before configure)."""
    _validate_specs(obj, specs)


def extract_schema(obj: Any, extension_version: Any = None,
                   dialog_creation_context: Any = None) -> dict:
    """JSON schema of the settings; parameters newer than ``extension_version`` are left out."""
    version = Version.parse_version(extension_version)
    return {"type": "object", "properties": {
        "model": _object_schema(obj, version, dialog_creation_context)}}


def extract_parameter_descriptions(obj: Any) -> tuple:
    """Option descriptions for the node description: ``(entries, uses_tabs)``.

    With a top-level group each group is a tab ``{"name", "description", "options"}`` and the
    top-level plain parameters form a leading "Options" tab.
    """
    params = _get_parameters(obj)
    entries = [p._extract_description(n, 0) for n, p in params.items()]
    if not any(_is_group(p) for p in params.values()):
        return entries, False
    plain = [e for e in entries if "options" not in e]
    tabs = [e for e in entries if "options" in e]
    if plain:
        tabs.insert(0, {"name": "Options", "description": "", "options": plain})
    return tabs, True

