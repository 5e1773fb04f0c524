"""The model dropdown: filled from the connected server when the dialog opens, never an exception."""

from __future__ import annotations

import knime.extension as knext
import pandas as pd
import pytest

from knime_llm.nodes import modelchoice
from knime_llm.nodes.completions import CreateChatCompletion, CreateCompletion
from knime_llm.nodes.ports import OpenAIConfigSpec
from knime_llm.settings import ApiConfig, Connection, Flavor
from tests import knime_harness as kh  # first: against the real package it installs KNIME's backends
from tests.fakeapi import FakeAPI, Reply
from tests.nodes.test_completions import CREDS, KEY, config

TABLE = knext.Table.from_pandas(pd.DataFrame({"question": ["q"]})).schema


def dropdown(node: object, specs: list, credentials: dict = CREDS) -> list[str]:
    """The dropdown's entries as KNIME's dialog gets them (the JSON schema built with the context)."""
    ctx = kh.make_dialog_context(specs=specs, credentials=credentials)
    schema = kh.kp.extract_schema(node, "0.2.0", ctx)
    listed = schema["properties"]["model"]["properties"]["body"]["properties"]["listed_model"]
    return [choice["const"] for choice in listed.get("oneOf", [])]


def models(seen: object) -> Reply:
    if seen.headers.get("Authorization") != f"Bearer {KEY}":
        return Reply(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
    return Reply(body={"object": "list", "data": [{"id": "o3-mini"}, {"id": "gpt-4o-mini"}, {"id": "gpt-4o-mini"}]})


@pytest.mark.parametrize("node_class", [CreateChatCompletion, CreateCompletion])
def test_the_dropdown_lists_the_servers_models_with_the_connectors_key(node_class: type) -> None:
    with FakeAPI() as api:
        api.handler = models
        assert dropdown(node_class(), [config(api.url).spec, TABLE]) == ["gpt-4o-mini", "o3-mini"]
        assert [s.path for s in api.seen] == ["/v1/models"]


def test_a_local_server_is_asked_without_a_key() -> None:
    with FakeAPI() as api:
        api.default = Reply(body={"object": "list", "data": [{"id": "smollm2"}]})
        spec = OpenAIConfigSpec(ApiConfig(Connection(base_url=api.url, flavor=Flavor.NO_AUTH)))
        assert dropdown(CreateChatCompletion(), [spec, TABLE], credentials={}) == ["smollm2"]
        assert "Authorization" not in api.seen[0].headers


@pytest.mark.parametrize("reply, credentials, message", [
    (Reply(401, {"error": {"message": "Incorrect API key provided"}}), CREDS, "the API key was rejected (HTTP 401"),
    (Reply(404, "nope"), CREDS, "check the base URL"),
    (Reply(body={"object": "list", "data": []}), CREDS, "the server lists no models"),
    (None, {}, "the credentials 'openai' are not available"),
])
def test_a_failed_listing_is_one_entry_that_says_why(reply: Reply | None, credentials: dict, message: str) -> None:
    with FakeAPI() as api:
        api.default = reply
        [entry] = dropdown(CreateChatCompletion(), [config(api.url).spec, TABLE], credentials)
    assert entry.startswith(modelchoice.NOTE) and message in entry and KEY not in entry


def test_without_a_connector_the_dropdown_says_to_connect_one() -> None:
    [entry] = dropdown(CreateChatCompletion(), [None, TABLE])
    assert entry == modelchoice.NOTE + "connect and configure an OpenAI Connector to list its models"


def test_an_unreachable_server_is_a_message_too() -> None:
    [entry] = dropdown(CreateChatCompletion(), [config("http://127.0.0.1:9/v1").spec, TABLE])
    assert entry.startswith(modelchoice.NOTE + "the models could not be listed: cannot reach")


def test_a_slow_server_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modelchoice, "DIALOG_DEADLINE_S", 0.2)
    with FakeAPI() as api:
        api.default = Reply(body={"object": "list", "data": [{"id": "late"}]}, delay=2.0)
        [entry] = dropdown(CreateChatCompletion(), [config(api.url).spec, TABLE])
    assert entry.endswith("did not answer within 0.2 s")


def test_without_a_dialog_there_are_no_entries() -> None:
    # KNIME reads the node description (no dialog context) at start-up: nothing is fetched.
    assert modelchoice.server_models(None) == []


def test_settings_saved_before_the_dropdown_keep_their_typed_model() -> None:
    node = CreateChatCompletion()
    settings = kh.kp.extract_parameters(node)
    body = settings["model"]["body"]
    del body["model_from"], body["listed_model"]
    body["model"] = "my-old-model"
    old = CreateChatCompletion()
    kh.kp.inject_parameters(old, settings, "0.1.0")
    assert (old.body.model_from, modelchoice.chosen_model(old.body)) == ("NAME", "my-old-model")
    assert (node.body.model_from, modelchoice.chosen_model(node.body)) == ("SERVER", "gpt-4o-mini")
