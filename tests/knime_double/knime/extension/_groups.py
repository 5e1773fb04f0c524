"""``parameter_group`` of the parameter double.

A group instance declared as a class attribute of a node (or of another group) is a descriptor:
reading it from a node returns a *bound copy* whose values are the node's nested dict for that
group, so ``node.group.param = x`` changes the node's settings. Values assigned in the group's
``__init__`` act as defaults. Instance-level parameters inside a group's ``__init__``
("composition") are not supported by the double and raise ``NotImplementedError``.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, Optional

from knime.extension._parameter_base import (
    Condition, Effect, LayoutDirection, Rule, _get_parameters, _inject_parameters,
    _is_parameter_or_group, _object_schema, _store, _validate_parameters, _validate_specs,
    _VALUES,
)
from knime.extension.version import Version

_RESERVED = {"since_version", "is_advanced", "validator"}


class _GroupBehaviour:
    """Methods every decorated group class gets (mixed in before the user's class)."""

    __kind__ = "parameter_group"

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        return self if obj is None else self._bind(obj)

    def __set__(self, obj: Any, value: Any) -> None:
        raise RuntimeError("Cannot set parameter group values directly.")

    def _bind(self, obj: Any) -> Any:
        values = _store(obj)
        if self._name not in values:
            values[self._name] = copy.deepcopy(_store(self))
        bound = copy.copy(self)
        bound.__dict__[_VALUES] = values[self._name]
        return bound

    def _get_value(self, obj: Any, name: str) -> dict:
        bound = self._bind(obj)
        return {n: p._get_value(bound, n) for n, p in _get_parameters(bound).items()}

    def _extract_value(self, obj: Any, name: str) -> dict:
        bound = self._bind(obj)
        return {n: p._extract_value(bound, n) for n, p in _get_parameters(bound).items()}

    def _inject(self, obj: Any, values: dict, name: str, version: Version) -> None:
        _inject_parameters(self._bind(obj), values, version)

    def _set_default_for_version(self, obj: Any, name: str, version: Version) -> None:
        bound = self._bind(obj)
        for child_name, child in _get_parameters(bound).items():
            child._set_default_for_version(bound, child_name, version)

    def _validate(self, values: dict, version: Version) -> None:
        _validate_parameters(self, values, version)
        if hasattr(self, "validate") and not self._override_internal_validator:
            self.validate(values)
        if self._validator is not None:
            self._validator(values)

    def _validate_specs(self, specs: Any) -> None:
        _validate_specs(self, specs)

    def validator(self, override: Any = None) -> Optional[Callable]:
        """Decorator for a whole-group validator ``func(values_dict)``.

        ``@group.validator`` or ``@group.validator(override=True)`` replaces the group's own
        ``validate`` method; ``override=False`` runs it after ``validate``.
        """
        if isinstance(override, bool):
            def decorator(func: Callable[[dict], None]) -> None:
                self._validator = func
                self._override_internal_validator = override
            return decorator
        self._validator = override
        self._override_internal_validator = True
        return None

    def _extract_schema(self, version: Version, ctx: Any) -> dict:
        return _object_schema(self, version, ctx)

    def _extract_description(self, name: str, level: int) -> Any:
        options = []
        for child_name, child in _get_parameters(self).items():
            entry = child._extract_description(child_name, level + 1)
            options.extend(entry if isinstance(entry, list) else [entry])
        if level == 0:  # a top-level group is a dialog tab
            return {"name": self._label, "description": self.__doc__, "options": options}
        return options


def _rule(self: Any, condition: Condition, effect: Effect) -> Any:
    """Attach a dialog visibility rule to the group and return the group."""
    self._rule = Rule(condition, effect)
    return self


def parameter_group(label: str, since_version: Any = None, is_advanced: bool = False,
                    layout_direction: LayoutDirection = LayoutDirection.VERTICAL) -> Callable:
    """Class decorator turning a class with parameter attributes into a parameter group.

    The group's constructor also accepts ``since_version``, ``is_advanced`` and ``validator``
    keywords (overriding the decorator's); the wrapped ``__init__`` must not declare them
    (``SyntaxError`` on instantiation, as in KNIME).
    """

    def decorate(original: type) -> type:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            if _RESERVED & set(inspect.signature(original.__init__).parameters):
                raise SyntaxError("Please refrain from declaring reserved keyword arguments "
                                  f"{sorted(_RESERVED)} in the `__init__` of a parameter group.")
            self.__dict__[_VALUES] = {}
            self._since_version = Version.parse_version(kwargs.pop("since_version", since_version))
            self._is_advanced = kwargs.pop("is_advanced", is_advanced)
            self._validator = kwargs.pop("validator", None)
            self._override_internal_validator = False
            self._label = label
            self._layout_direction = layout_direction.value
            self._rule = None
            self.__doc__ = original.__doc__
            original.__init__(self, *args, **kwargs)
            if any(_is_parameter_or_group(v) for k, v in vars(self).items() if k != _VALUES):
                raise NotImplementedError("The knime.extension double does not support parameters "
                                          "created inside a parameter group's __init__.")

        namespace = {"__init__": __init__, "__doc__": original.__doc__,
                     "__module__": original.__module__, "__qualname__": original.__qualname__}
        if not hasattr(original, "rule"):
            namespace["rule"] = _rule
        return type(original.__name__, (_GroupBehaviour, original), namespace)

    return decorate
