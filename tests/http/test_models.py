"""Listing a server's models: ids, clear errors, a deadline, and cancellation while waiting."""

from __future__ import annotations

import pytest

from knime_llm.errors import Cancelled, ConfigError
from knime_llm.http.models import list_models
from knime_llm.settings import Connection, Secret
from tests.fakeapi import FakeAPI, Reply

KEY = "sk-models-secret-0123456789abcdef"
MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini"}, {"id": "o3-mini"}, {"object": "model"}]}


def connection(url: str) -> Connection:
    return Connection(base_url=url, api_key=Secret(KEY))


def test_lists_the_ids_with_the_key() -> None:
    with FakeAPI() as api:
        api.default = Reply(body=MODELS)
        assert list_models(connection(api.url)) == ["gpt-4o-mini", "o3-mini"]
        assert api.seen[0].path == "/v1/models" and api.seen[0].headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("reply, message", [
    (Reply(401, {"error": {"message": "Incorrect API key provided"}}), "the API key was rejected (HTTP 401"),
    (Reply(404, "no such route"), "was not found (HTTP 404); check the base URL"),
    (Reply(200, "<html>login</html>"), "answered, but not with JSON"),
])
def test_failures_say_what_to_fix(reply: Reply, message: str) -> None:
    with FakeAPI() as api:
        api.default = reply
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
            list_models(connection(api.url))
    assert KEY not in str(err.value)


def test_a_server_that_does_not_answer_fails_at_the_deadline() -> None:
    with FakeAPI() as api:
        api.default = Reply(body=MODELS, delay=2.0)
        with pytest.raises(ConfigError, match=r"/v1/models did not answer within 0\.2 s"):
            list_models(connection(api.url), deadline_s=0.2)


def test_cancelling_stops_the_wait() -> None:
    asked = []

    def cancelled() -> bool:
        asked.append(True)
        return len(asked) > 2

    with FakeAPI() as api:
        api.default = Reply(body=MODELS, delay=2.0)
        with pytest.raises(Cancelled):
            list_models(connection(api.url), cancelled=cancelled)
    assert len(asked) == 3  # polled while waiting, stopped at the first True
