"""Smoke tests: the session fixtures give working servers that behave as the tests rely on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

AUTH = {"Authorization": "Bearer sk-test"}


def post_json(url: str, body: object, headers: dict[str, str] | None = None
              ) -> tuple[int, str, object]:
    """POST ``body`` as JSON; return (status, content type, decoded JSON body)."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), json.load(response)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers.get("Content-Type", ""), json.load(err)


@pytest.mark.prism
def test_prism_accepts_a_valid_chat_request(prism_url: str) -> None:
    status, _, body = post_json(
        f"{prism_url}/chat/completions",
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}, AUTH)
    assert status == 200
    assert body["object"] == "chat.completion"
    assert isinstance(body["choices"][0]["message"]["content"], str)


@pytest.mark.prism
def test_prism_rejects_a_chat_request_without_messages(prism_url: str) -> None:
    status, content_type, body = post_json(
        f"{prism_url}/chat/completions", {"model": "gpt-4o-mini"}, AUTH)
    assert status == 422
    assert content_type.startswith("application/problem+json")
    assert any("messages" in entry["message"] for entry in body["validation"])


@pytest.mark.prism
def test_prism_rejects_a_completion_request_with_out_of_range_temperature(
        prism_url: str) -> None:
    # Guards the spec normalization: with `nullable` left as in upstream, Prism silently
    # skipped validation of whole request bodies.
    status, _, _ = post_json(
        f"{prism_url}/completions",
        {"model": "gpt-3.5-turbo-instruct", "prompt": "Hi", "temperature": 3}, AUTH)
    assert status == 422


@pytest.mark.llama
def test_llama_answers_a_chat_request_with_real_text_and_usage(llama_url: str) -> None:
    status, _, body = post_json(
        f"{llama_url}/chat/completions",
        {"model": "smollm2", "messages": [{"role": "user", "content": "Say hello."}],
         "max_tokens": 16, "temperature": 0})
    assert status == 200
    assert body["choices"][0]["message"]["content"].strip()
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.llama
def test_llama_completion_is_repeatable_at_temperature_zero(llama_url: str) -> None:
    body = {"model": "smollm2", "prompt": "The capital of France is", "max_tokens": 8,
            "temperature": 0}
    first = post_json(f"{llama_url}/completions", body)
    second = post_json(f"{llama_url}/completions", body)
    assert first[0] == second[0] == 200
    assert first[2]["choices"][0]["text"] == second[2]["choices"][0]["text"] != ""
