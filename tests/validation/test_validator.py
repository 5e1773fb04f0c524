"""Checking request bodies (knime_llm.validation.validator): verdicts, messages, backends."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knime_llm.errors import ConfigError, SchemaError
from knime_llm.settings import Endpoint
from knime_llm.validation import BodyValidator, shipped_schema, validator

SAMPLES = json.loads(
    (Path(__file__).parents[1] / "data/openai_samples/requests.json").read_text(encoding="utf-8")
)["cases"]
ENDPOINT_OF = {e.schema_name: e for e in Endpoint}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
COMPLETION = {"model": "gpt-3.5-turbo-instruct", "prompt": "x"}


def chat(**fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CHAT), **fields}


@pytest.fixture(scope="module", params=["rs", "python"])
def validators(request: pytest.FixtureRequest) -> dict[Endpoint, BodyValidator]:
    return {e: BodyValidator.for_endpoint(e, backend=request.param) for e in Endpoint}


# --- verdicts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SAMPLES, ids=[c["name"] for c in SAMPLES])
def test_sample_bodies_get_the_2026_verdict(
    validators: dict[Endpoint, BodyValidator], case: dict
) -> None:
    message = validators[ENDPOINT_OF[case["schema"]]].check(case["body"])
    if case["valid"]["2026-08-21"]:
        assert message is None
    else:
        assert message and "\n" not in message


MESSAGES = [
    (
        Endpoint.CHAT,
        chat(messages=[{"role": "bot", "content": "x"}]),
        (
            "messages[0].role: 'bot' is not one of "
            "['developer', 'system', 'user', 'assistant', 'tool', 'function']"
        ),
    ),
    (Endpoint.CHAT, chat(temperature=3), "temperature: 3 is greater than the maximum of 2"),
    (
        Endpoint.CHAT,
        chat(temperature="hot"),
        "temperature: 'hot' is not of type 'number' or 'null'",
    ),
    (
        Endpoint.CHAT,
        chat(messages=[{"role": "user", "content": [{"type": "text", "txt": "hi"}]}]),
        "messages[0].content[0].text: required property is missing",
    ),
    (
        Endpoint.CHAT,
        chat(messages=[{"role": "user", "content": [{"type": "image", "text": "hi"}]}]),
        (
            "messages[0].content[0].type: 'image' is not one of "
            "['text', 'image_url', 'input_audio', 'file']"
        ),
    ),
    (
        Endpoint.CHAT,
        chat(messages=[{"role": "user", "content": 5}]),
        "messages[0].content: 5 is not of type 'string' or 'array'",
    ),
    (
        Endpoint.CHAT,
        chat(response_format={"type": "json_schema"}),
        "response_format.json_schema: required property is missing",
    ),
    (
        Endpoint.CHAT,
        chat(response_format={"type": "json_schema", "json_schema": {"strict": True}}),
        "response_format.json_schema.name: required property is missing",
    ),
    (
        Endpoint.CHAT,
        chat(tools=[{"type": "fn", "function": {"name": "f"}}]),
        "tools[0].type: 'fn' is not one of ['function', 'custom']",
    ),
    (
        Endpoint.CHAT,
        chat(tools=[{"type": "function", "function": {"name": "f", "parameters": 5}}]),
        "tools[0].function.parameters: 5 is not of type 'object'",
    ),
    (
        Endpoint.CHAT,
        chat(tool_choice="bogus"),
        "tool_choice: 'bogus' is not one of ['none', 'auto', 'required']",
    ),
    (
        Endpoint.CHAT,
        chat(tool_choice={"type": "function"}),
        "tool_choice.function: required property is missing",
    ),
    (
        Endpoint.CHAT,
        chat(audio={"voice": "alloy", "format": "wav2"}),
        "audio.format: 'wav2' is not one of ['wav', 'aac', 'mp3', 'flac', 'opus', 'pcm16']",
    ),
    (Endpoint.CHAT, chat(metadata={"k": None}), "metadata.k: null is not of type 'string'"),
    (Endpoint.CHAT, chat(messages=[]), "messages: [] is empty; at least 1 item required"),
    (Endpoint.CHAT, {"model": "gpt-4o"}, "messages: required property is missing"),
    (Endpoint.CHAT, [{"role": "user"}], "(body): [{'role': 'user'}] is not of type 'object'"),
    (Endpoint.CHAT, "hello", "(body): 'hello' is not of type 'object'"),
    (Endpoint.COMPLETION, {**COMPLETION, "n": 0}, "n: 0 is less than the minimum of 1"),
    (Endpoint.COMPLETION, {"model": "m"}, "prompt: required property is missing"),
    (
        Endpoint.COMPLETION,
        {**COMPLETION, "echo": "yes"},
        "echo: 'yes' is not of type 'boolean' or 'null'",
    ),
]


@pytest.mark.parametrize(
    ("endpoint", "body", "expected"), MESSAGES, ids=[m[2][:40] for m in MESSAGES]
)
def test_messages_say_where_and_what(
    validators: dict[Endpoint, BodyValidator], endpoint: Endpoint, body: Any, expected: str
) -> None:
    assert validators[endpoint].check(body) == expected


def test_long_values_are_shortened(validators: dict[Endpoint, BodyValidator]) -> None:
    text = "a review that goes on and on " * 200
    message = validators[Endpoint.CHAT].check(
        chat(messages=[{"role": "user", "content": {"text": text}}])
    )
    assert message is not None and message.startswith("messages[0].content: {'text': 'a review")
    assert "…" in message and len(message) < 160
    message = validators[Endpoint.CHAT].check(chat(safety_identifier="u" * 100))
    assert message is not None and message.endswith("has 100 characters; at most 64 allowed")


def test_values_that_are_not_json_do_not_crash(validators: dict[Endpoint, BodyValidator]) -> None:
    message = validators[Endpoint.CHAT].check(chat(metadata={"k": {1, 2}}))
    assert message is not None and message.startswith("metadata.k: ")


def test_a_custom_schema_file_with_strict_properties(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["model"],
        "additionalProperties": False,
        "properties": {"model": {"type": "string"}, "messages": {"type": "array"}},
    }
    path = tmp_path / "strict.schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    validator = BodyValidator.for_endpoint(Endpoint.CHAT, path)
    assert validator.check({"model": "m", "messages": []}) is None
    assert validator.check({"model": "m", "frobnicate": 1}) == (
        "frobnicate: unexpected property; the schema allows no other properties here"
    )


def test_a_spec_file_gives_the_endpoints_schema(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "spec.yaml"
    path.write_text(
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n"
        "    CreateCompletionRequest:\n      type: object\n      required: [prompt]\n"
        "      properties:\n        prompt: {type: string, nullable: true}\n",
        encoding="utf-8",
    )
    validator = BodyValidator.for_endpoint(Endpoint.COMPLETION, path)
    assert validator.check({"prompt": None}) is None
    assert validator.check({}) == "prompt: required property is missing"
    with pytest.raises(SchemaError, match=r"spec\.yaml: .*'CreateChatCompletionRequest' is not in"):
        BodyValidator.for_endpoint(Endpoint.CHAT, path)


@pytest.mark.parametrize("backend", ["rs", "python", "auto"])
def test_an_invalid_schema_is_refused_when_built(backend: str) -> None:
    with pytest.raises(SchemaError, match="not a valid JSON Schema"):
        BodyValidator({"type": "objekt"}, backend=backend)  # type: ignore[arg-type]


def test_unresolvable_references_are_schema_errors() -> None:
    schema = {"properties": {"a": {"$ref": "https://example.invalid/a.json"}}}
    with pytest.raises(SchemaError):
        BodyValidator(schema, backend="rs")
    validator = BodyValidator(schema, backend="python")
    assert validator.check({"b": 1}) is None
    with pytest.raises(SchemaError, match="cannot be resolved"):
        validator.check({"a": 1})


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BodyValidator.for_endpoint(Endpoint.CHAT).backend == "rs"
    assert BodyValidator.for_endpoint(Endpoint.CHAT, backend="python").backend == "python"
    with pytest.raises(ConfigError, match="'auto', 'rs' or 'python'"):
        BodyValidator({}, backend="fast")  # type: ignore[arg-type]
    monkeypatch.setattr(validator, "_rs", None)  # as in an environment without jsonschema-rs
    fallback = BodyValidator.for_endpoint(Endpoint.CHAT)
    assert fallback.backend == "python"
    assert fallback.check(chat(temperature=3)) == "temperature: 3 is greater than the maximum of 2"
    with pytest.raises(ConfigError, match="pip install jsonschema-rs"):
        BodyValidator.for_endpoint(Endpoint.CHAT, backend="rs")


def test_shipped_schemas_are_read_once() -> None:
    assert shipped_schema(Endpoint.CHAT) is shipped_schema(Endpoint.CHAT)
    assert shipped_schema(Endpoint.COMPLETION)["$id"].endswith(":CreateCompletionRequest")


# --- the two backends agree with Python jsonschema ----------------------------------------------

WRONG_VALUES = [
    None,
    "x",
    "",
    0,
    -1,
    1,
    0.5,
    2.0,
    3,
    129,
    1e300,
    True,
    [],
    ["x"],
    [1],
    {},
    {"a": "b"},
]

NESTED = {
    ("messages",): [
        [{"role": "user"}],
        [{"role": "user", "content": None}],
        [{"role": "developer", "content": []}],
        [{"role": "user", "content": [{"type": "text", "text": 5}]}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
        [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}],
            }
        ],
        [
            {
                "role": "user",
                "content": [{"type": "input_audio", "input_audio": {"data": "d", "format": "mp3"}}],
            }
        ],
        [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}],
        [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}],
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            }
        ],
        [
            {
                "role": "assistant",
                "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f"}}],
            }
        ],
        [{"role": "tool", "content": "r"}],
        [{"role": "tool", "content": "r", "tool_call_id": "1"}],
        [{"role": "function", "name": "f", "content": None}],
        [{"role": "user", "content": "x", "name": 5}],
    ],
    ("tools",): [
        [{"type": "function", "function": {"name": "f"}}],
        [{"type": "function"}],
        [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object"}, "strict": None},
            }
        ],
        [{"type": "custom", "custom": {"name": "c"}}],
        [{"type": "custom", "custom": {}}],
        [{"type": "mcp"}],
    ],
    ("response_format",): [
        {"type": "text"},
        {"type": "json_object"},
        {"type": "json_schema"},
        {"type": "xml"},
        {
            "type": "json_schema",
            "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": True},
        },
        {"type": "json_schema", "json_schema": {"name": "n", "schema": 5}},
    ],
    ("tool_choice",): [
        "auto",
        "none",
        "required",
        "bogus",
        {"type": "function", "function": {"name": "f"}},
        {"type": "function"},
        {"type": "custom", "custom": {"name": "c"}},
        {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
    ],
    ("stop",): ["\n", ["a", "b"], ["a"] * 5, [1]],
    ("audio",): [
        {"voice": "alloy", "format": "wav"},
        {"voice": {"id": "v"}, "format": "mp3"},
        {"voice": "alloy"},
    ],
    ("prompt",): [[], [[]], [1, 2], [[1, 2]], ["a", "b"], ["a", 1], [[1, "a"]]],
    ("logit_bias",): [{"50256": -100}, {"50256": "x"}],
}


def _mutations() -> list[tuple[Endpoint, Any]]:
    out: list[tuple[Endpoint, Any]] = []
    for case in SAMPLES:
        endpoint, body = ENDPOINT_OF[case["schema"]], case["body"]
        out.append((endpoint, body))
        for key in body:
            out.append((endpoint, {k: v for k, v in body.items() if k != key}))
            out.extend((endpoint, {**body, key: value}) for value in WRONG_VALUES)
        out.extend((endpoint, {**body, "new_field": value}) for value in (1, None, {"x": [1]}))
        for (key,), values in NESTED.items():
            out.extend((endpoint, {**body, key: value}) for value in values)
    return out


MUTATIONS = _mutations()


@functools.cache
def _judges(endpoint: Endpoint) -> tuple[Any, Any, list[BodyValidator]]:
    """The reference (Python jsonschema), raw jsonschema_rs, and both BodyValidator backends."""
    schema = shipped_schema(endpoint)
    return (
        jsonschema.Draft202012Validator(schema),
        jsonschema_rs.validator_for(schema, validate_formats=False),
        [BodyValidator(schema, backend="rs"), BodyValidator(schema, backend="python")],
    )


def _agree(endpoint: Endpoint, body: Any) -> bool:
    reference, rs, validators = _judges(endpoint)
    expected = reference.is_valid(body)
    assert rs.is_valid(body) == expected, f"jsonschema_rs differs on {body!r:.300}"
    for v in validators:
        message = v.check(body)
        assert (message is None) == expected, f"{v.backend}: {message} on {body!r:.300}"
        assert message is None or (message and "\n" not in message)
    return expected


def test_backends_agree_on_mutated_samples() -> None:
    verdicts = [_agree(endpoint, body) for endpoint, body in MUTATIONS]
    # the table must exercise both outcomes, or agreement would prove little
    assert len(verdicts) > 1000 and 0.2 < sum(verdicts) / len(verdicts) < 0.8


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["user", "system", "text", "function", "json_schema", "auto", "image_url"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "role", "content", "text", "name", "function", "x"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(body: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    out = copy.copy(body)
    out[path[0]] = _replace(body[path[0]], path[1:], value)
    return out


PLACES = [(i, p) for i, c in enumerate(SAMPLES) for p in _paths(c["body"])]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(PLACES), value=JSON)
def test_backends_agree_on_random_values(place: tuple[int, tuple], value: Any) -> None:
    case = SAMPLES[place[0]]
    _agree(ENDPOINT_OF[case["schema"]], _replace(case["body"], place[1], value))
