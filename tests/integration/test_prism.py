"""Our client against Prism serving the official OpenAI spec: same verdicts, retries, auth errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from knime_llm.bodies import column_body
from knime_llm.job import Job, run_job
from knime_llm.results import RowResult
from knime_llm.settings import Connection, Endpoint, Flavor, ResultFormat, RetryPolicy, RunOptions, Secret, Validation
from knime_llm.validation import BodyValidator

pytestmark = pytest.mark.prism

SAMPLES = json.loads((Path(__file__).parents[1] / "data" / "openai_samples" / "requests.json").read_text())
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
COMPLETION = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test"}


def variant(base: dict, **changes: Any) -> dict:
    body = copy.deepcopy(base)
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


_DROP = object()
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}
USER_PARTS = [{"type": "text", "text": "What is here?"},
              {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}]

GENERATED: list[tuple[str, str, dict]] = [
    # new fields of the 2026 spec
    ("chat", "store_and_metadata", variant(CHAT, store=True, metadata={"team": "data"})),
    ("chat", "reasoning_effort", variant(CHAT, reasoning_effort="low", max_completion_tokens=64)),
    ("chat", "reasoning_effort_bad", variant(CHAT, reasoning_effort="extreme")),
    ("chat", "verbosity", variant(CHAT, verbosity="low")),
    ("chat", "service_tier_bad", variant(CHAT, service_tier="gold")),
    ("chat", "unknown_top_level_field", variant(CHAT, my_extension={"a": 1})),
    ("chat", "developer_role", variant(CHAT, messages=[{"role": "developer", "content": "Be brief."},
                                                        {"role": "user", "content": "Hi"}])),
    # tools
    ("chat", "tool_ok", variant(CHAT, tools=[TOOL], tool_choice="auto")),
    ("chat", "tool_without_name", variant(CHAT, tools=[{"type": "function", "function": {"parameters": {}}}])),
    ("chat", "tool_bad_type", variant(CHAT, tools=[{"type": "fn", "function": {"name": "f"}}])),
    ("chat", "tool_choice_required", variant(CHAT, tools=[TOOL], tool_choice="required")),
    ("chat", "tool_choice_bad", variant(CHAT, tools=[TOOL], tool_choice="sometimes")),
    ("chat", "assistant_tool_call_and_tool_reply", variant(CHAT, messages=[
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}])),
    ("chat", "tool_reply_without_id", variant(CHAT, messages=[{"role": "tool", "content": "sunny"}])),
    # response_format
    ("chat", "json_object", variant(CHAT, response_format={"type": "json_object"})),
    ("chat", "json_schema_ok", variant(CHAT, response_format={"type": "json_schema", "json_schema": {
        "name": "answer", "strict": True, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}})),
    ("chat", "json_schema_without_name", variant(CHAT, response_format={"type": "json_schema",
                                                                        "json_schema": {"schema": {}}})),
    ("chat", "json_schema_missing", variant(CHAT, response_format={"type": "json_schema"})),
    ("chat", "response_format_xml", variant(CHAT, response_format={"type": "xml"})),
    ("chat", "response_format_empty", variant(CHAT, response_format={})),
    # content parts
    ("chat", "content_parts_ok", variant(CHAT, messages=[{"role": "user", "content": USER_PARTS}])),
    ("chat", "text_part_without_text", variant(CHAT, messages=[{"role": "user", "content": [{"type": "text"}]}])),
    ("chat", "part_bad_type", variant(CHAT, messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}])),
    ("chat", "image_detail_bad", variant(CHAT, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://e.com/a.png", "detail": "ultra"}}]}])),
    ("chat", "audio_part_bad_format", variant(CHAT, messages=[{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "ogg"}}]}])),
    ("chat", "system_parts_ok", variant(CHAT, messages=[{"role": "system", "content": [{"type": "text", "text": "x"}]},
                                                         {"role": "user", "content": "Hi"}])),
    # nulls and ranges
    ("chat", "nulls_ok", variant(CHAT, temperature=None, top_p=None, n=None, stop=None, seed=None,
                                 max_completion_tokens=None, presence_penalty=None)),
    ("chat", "messages_null", variant(CHAT, messages=None)),
    ("chat", "model_null", variant(CHAT, model=None)),
    ("chat", "content_null_for_user", variant(CHAT, messages=[{"role": "user", "content": None}])),
    ("chat", "top_p_too_big", variant(CHAT, top_p=1.5)),
    ("chat", "presence_penalty_low", variant(CHAT, presence_penalty=-2.5)),
    ("chat", "stop_list", variant(CHAT, stop=["END", "STOP"])),
    ("chat", "stop_too_many", variant(CHAT, stop=["a", "b", "c", "d", "e"])),
    ("chat", "logit_bias", variant(CHAT, logit_bias={"50256": -100})),
    ("chat", "top_logprobs_too_many", variant(CHAT, logprobs=True, top_logprobs=21)),
    ("chat", "stream_options", variant(CHAT, stream_options={"include_usage": True})),
    ("chat", "model_number", variant(CHAT, model=4)),
    ("chat", "messages_not_list", variant(CHAT, messages={"role": "user", "content": "x"})),
    # completions
    ("completion", "prompt_list", variant(COMPLETION, prompt=["a", "b"])),
    ("completion", "prompt_null", variant(COMPLETION, prompt=None)),
    ("completion", "best_of_too_big", variant(COMPLETION, best_of=21)),
    ("completion", "logprobs_too_big", variant(COMPLETION, logprobs=6)),
    ("completion", "echo_and_suffix", variant(COMPLETION, echo=True, suffix="!")),
    ("completion", "n_too_big", variant(COMPLETION, n=200)),
    ("completion", "temperature_string", variant(COMPLETION, temperature="hot")),
    ("completion", "no_model", variant(COMPLETION, model=_DROP)),
]


def all_cases() -> list[tuple[str, str, dict]]:
    samples = [("chat" if c["schema"] == "CreateChatCompletionRequest" else "completion", c["name"], c["body"])
               for c in SAMPLES["cases"]]
    for _, _, body in samples:
        body.pop("stream", None)  # Prism answers streams with a 500; the samples were checked without
        body.pop("stream_options", None)
    return samples + GENERATED


NO_RETRIES = RetryPolicy(max_retries=0)


def send_all(url: str, endpoint: Endpoint, bodies: list[dict], *, key: str | None = "sk-test",
             headers: tuple[tuple[str, str], ...] = (), retry: RetryPolicy = NO_RETRIES,
             ) -> list[RowResult]:
    """Send bodies as they are (validation off) and return the per-row results."""
    batch = pa.record_batch({"body": [orjson.dumps(b).decode() for b in bodies]})
    connection = Connection(base_url=url, flavor=Flavor.OPENAI if key else Flavor.NO_AUTH,
                            api_key=Secret(key) if key else None, headers=headers)
    job = Job(endpoint, connection, RunOptions(concurrency=8, validation=Validation.OFF, retry=retry,
                                               result_format=ResultFormat.PARSED),
              column_body("body", ["body"]))
    written: list[pa.RecordBatch] = []
    run_job(job, [batch], written.append)
    table = pa.Table.from_batches(written)
    return [RowResult(body=b, status=s, error=e) for b, s, e in
            zip(*(table.column(n).to_pylist() for n in ("body (#1)", "status", "error")))]


def test_our_validator_and_prism_agree_on_every_body(prism_url: str) -> None:
    cases = all_cases()
    disagreements = []
    for endpoint in (Endpoint.CHAT, Endpoint.COMPLETION):
        chosen = [(name, body) for kind, name, body in cases if kind == endpoint.value]
        validator = BodyValidator.for_endpoint(endpoint)
        results = send_all(prism_url, endpoint, [body for _, body in chosen])
        for (name, body), result in zip(chosen, results):
            ours = validator.check(body)
            assert result.status in (200, 422), f"{name}: unexpected {result.status} {result.body[:300]}"
            if (ours is None) != (result.status == 200):
                disagreements.append(f"{name}: ours={ours!r} prism={result.status} {result.error}")
    assert not disagreements, "\n".join(disagreements)
    valid = sum(1 for kind, _, body in cases
                if BodyValidator.for_endpoint(Endpoint(kind)).check(body) is None)
    assert 0 < valid < len(cases)  # both verdicts are exercised


def test_valid_bodies_get_200_and_parse(prism_url: str) -> None:
    results = send_all(prism_url, Endpoint.CHAT, [CHAT, variant(CHAT, temperature=0.2)])
    for result in results:
        assert result.status == 200 and result.error is None
        data = json.loads(result.body)
        assert data["object"] == "chat.completion" and isinstance(data["choices"][0]["message"]["content"], str)


def test_rate_limited_answers_go_through_the_retry_path(prism_url: str) -> None:
    [result] = send_all(prism_url, Endpoint.CHAT, [CHAT], headers=(("Prefer", "code=429"),),
                        retry=RetryPolicy(max_retries=2, initial_backoff_s=0.01, max_backoff_s=0.02))
    assert result.status == 429
    assert result.error.startswith("HTTP 429: ") and result.error.endswith("(gave up after 3 attempts)")


def test_a_missing_key_is_a_401_on_the_row(prism_url: str) -> None:
    [result] = send_all(prism_url, Endpoint.CHAT, [CHAT], key=None)
    assert result.status == 401 and result.error.startswith("HTTP 401")
    assert result.body  # the raw answer is kept for the user to read
