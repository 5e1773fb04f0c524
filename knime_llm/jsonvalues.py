"""JSON text and the Python values it stands for, with integers of any size kept exact.

orjson does the work, for speed; where it would lose an integer (it turns those outside
[-2**63, 2**64) into floats), the standard library takes over, which keeps them exact.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: Digit runs as long as those of the integers orjson cannot keep (a regular expression that
#: Python and Arrow's RE2 both read); texts without such a run are safe to give to orjson.
LONG_DIGITS_PATTERN = r"-[0-9]{19}|[0-9]{20}"
_HUGE = 2.0**63


def dumps_json(value: Any) -> str:
    """Serialize a JSON-compatible value as compact JSON text (UTF-8, no escaping of non-ASCII).

    Integers beyond 64 bits, which orjson refuses, go through the standard library.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads_json(text: str | bytes) -> Any:
    """Parse JSON text, keeping integers of any size exact.

    Raises:
        ValueError: the text is not JSON (NaN and Infinity are refused, as JSON has no such values).
    """
    value = orjson.loads(text)
    if _has_huge_float(value):  # maybe an integer orjson could not keep: parse exactly
        return loads_json_exact(text)
    return value


def loads_json_exact(text: str | bytes) -> Any:
    """Parse JSON text with the standard library: slower than :func:`loads_json`, always exact.

    For texts known to hold long integers (see :data:`LONG_DIGITS_PATTERN`).

    Raises:
        ValueError: the text is not JSON (NaN and Infinity are refused, as JSON has no such values).
    """
    return json.loads(text, parse_constant=_refuse_constant)


def _has_huge_float(value: Any) -> bool:
    # A loop rather than recursion: this runs once per JSON Lines row and must stay cheap.
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if not -_HUGE < item < _HUGE:
                return True
        elif kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")

