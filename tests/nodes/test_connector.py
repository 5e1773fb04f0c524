"""The OpenAI Connector node, run the way KNIME runs it (real knime.extension or its double)."""

from __future__ import annotations

import json
import logging

import knime.extension as knext
import pytest

from knime_llm.errors import Cancelled
from knime_llm.nodes.connector import OpenAIConnector
from knime_llm.nodes.ports import OpenAIConfigObject, OpenAIConfigSpec
from knime_llm.settings import Flavor
from tests import knime_harness as kh  # first: against the real package it installs KNIME's backends
from tests.fakeapi import FakeAPI, Reply, Seen

KEY = "sk-node-secret-0123456789abcdefghij"
CREDS = {"openai": ("ignored-user", KEY)}


def connector(**settings: object) -> object:
    node = OpenAIConnector()
    node.credentials = "openai"
    for name, value in settings.items():
        target, _, attr = name.rpartition("__")
        setattr(getattr(node, target) if target else node, attr, value)
    return node


def models_api(seen: Seen) -> Reply:
    if seen.path == "/v1/models":
        if seen.headers.get("Authorization") != f"Bearer {KEY}":
            return Reply(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
        return Reply(body={"object": "list", "data": [{"id": "gpt-4o-mini"}, {"id": "o3-mini"}]})
    return Reply(404, "nope")


def test_configure_gives_a_spec_that_round_trips_through_json_without_the_key() -> None:
    node = connector(base_url="http://127.0.0.1:9/v1/", organization="org-1",
                     headers="X-Team: data\nX-Trace: 1", throughput__concurrency=64)
    [spec] = kh.run_configure(node, ctx=kh.make_config_context(CREDS))
    assert isinstance(spec, OpenAIConfigSpec)
    again = kh.roundtrip_spec(spec)
    assert again.config == spec.config
    assert again.config.credential_name == "openai" and again.config.concurrency == 64
    assert again.config.connection.headers == (("X-Team", "data"), ("X-Trace", "1"))
    assert KEY not in json.dumps(spec.serialize())


def test_settings_round_trip_and_hold_no_key() -> None:
    node = connector(base_url="http://localhost:8000/v1", flavor="AZURE", api_version="2024-06-01")
    settings = kh.settings_roundtrip(node)
    assert KEY not in json.dumps(settings)


@pytest.mark.parametrize("settings, credentials, message", [
    ({}, {}, "the credentials 'openai' are not available"),
    ({"credentials": ""}, CREDS, "no credentials chosen"),
    ({"base_url": "localhost:8000"}, CREDS, r"is not an http\(s\) URL"),
    ({"headers": "Authorization: Bearer x"}, CREDS, "is set by knime-llm itself"),
    ({"headers": "just text"}, CREDS, "is not of the form 'Name: value'"),
])
def test_bad_settings_fail_configure_with_a_clear_message(settings: dict, credentials: dict, message: str) -> None:
    with pytest.raises(knext.InvalidParametersError, match=message):
        kh.run_configure(connector(**settings), ctx=kh.make_config_context(credentials))


def test_a_local_server_needs_no_credentials() -> None:
    [spec] = kh.run_configure(connector(flavor="NO_AUTH", credentials=""), ctx=kh.make_config_context({}))
    assert spec.config.connection.flavor is Flavor.NO_AUTH and spec.config.credential_name == ""


def test_execute_checks_the_connection_with_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeAPI() as api:
        api.handler = models_api
        ctx = kh.make_exec_context(CREDS)
        [obj] = kh.run_execute(connector(base_url=api.url), ctx)
    assert isinstance(obj, OpenAIConfigObject)
    assert ctx.flow_variables["llm_models"] == ["gpt-4o-mini", "o3-mini"]  # a list flow variable
    assert KEY not in json.dumps(obj.spec.serialize()) and KEY not in caplog.text
    assert obj.serialize() == b""


def test_a_rejected_key_fails_the_check_clearly() -> None:
    with FakeAPI() as api:
        api.handler = models_api
        with pytest.raises(knext.InvalidParametersError, match="the API key was rejected .HTTP 401") as err:
            kh.run_execute(connector(base_url=api.url), kh.make_exec_context({"openai": ("u", "sk-wrong")}))
    assert "sk-wrong" not in str(err.value)


def test_a_base_url_without_v1_is_explained() -> None:
    with FakeAPI() as api:
        api.handler = models_api
        with pytest.raises(knext.InvalidParametersError, match="check the base URL, which usually ends in /v1"):
            kh.run_execute(connector(base_url=api.url.removesuffix("/v1") + "/api"), kh.make_exec_context(CREDS))


def test_the_check_can_be_turned_off() -> None:
    ctx = kh.make_exec_context(CREDS)
    [obj] = kh.run_execute(connector(base_url="http://127.0.0.1:9/v1", check_connection=False), ctx)
    assert obj.spec.config.connection.base_url == "http://127.0.0.1:9/v1"


def test_the_check_stops_when_the_node_is_cancelled() -> None:
    # The server would answer after 3 s and the read timeout is 600 s: only the cancel ends it.
    with FakeAPI() as api:
        api.default = Reply(body={"object": "list", "data": []}, delay=3.0)
        ctx = kh.make_exec_context(CREDS, cancel_after=2)
        with pytest.raises((Cancelled, kh.ExecutionCanceled)):
            kh.run_execute(connector(base_url=api.url), ctx)
    assert ctx._java_ctx.cancel_checks >= 3  # polled while waiting


def test_the_check_is_bounded_by_the_timeouts() -> None:
    with FakeAPI() as api:
        api.default = Reply(body={"object": "list", "data": []}, delay=3.0)
        node = connector(base_url=api.url, throughput__connect_timeout=0.2, throughput__read_timeout=0.3)
        with pytest.raises(knext.InvalidParametersError, match=r"within 0\.[35] s"):
            kh.run_execute(node, kh.make_exec_context(CREDS))
