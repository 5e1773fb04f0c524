"""JSON text and values: integers of any size stay exact; NaN and Infinity are not JSON."""

from __future__ import annotations

import pytest

from knime_llm.jsonvalues import dumps_json, loads_json, loads_json_exact


def test_integers_beyond_64_bits_stay_exact_both_ways() -> None:
    text = '{"id":123456789012345678901234567890,"n":[-9223372036854775809,1.5]}'
    value = loads_json(text)
    assert value == {"id": 123456789012345678901234567890, "n": [-9223372036854775809, 1.5]}
    assert type(value["id"]) is int
    assert loads_json_exact(text) == value
    assert dumps_json(value) == text


def test_text_is_written_compact_and_unescaped() -> None:
    assert dumps_json({"a": ["Käse", "日本"], "b": None}) == '{"a":["Käse","日本"],"b":null}'


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}', "{not json"])
def test_what_is_not_json_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        loads_json(text)
    with pytest.raises(ValueError):
        loads_json_exact(text)
