"""Create Chat Completion and Create Completion, configured and executed the way KNIME does."""

from __future__ import annotations

import json
import logging

import knime.extension as knext
import pandas as pd
import pytest

from knime_llm.errors import Cancelled
from knime_llm.nodes.completions import CreateChatCompletion, CreateCompletion
from knime_llm.nodes.ports import OpenAIConfigObject, OpenAIConfigSpec
from knime_llm.settings import ApiConfig, Connection, Flavor, RetryPolicy
from tests import knime_harness as kh  # first: against the real package it installs KNIME's backends
from tests.fakeapi import CHAT_OK, FakeAPI, Reply, Seen

KEY = "sk-node-secret-0123456789abcdefghij"
CREDS = {"openai": ("user", KEY)}
PROMPTS = pd.DataFrame({"question": ["What is 2+2?", "Name a colour.", "fail please"], "n": [1, 2, 3]},
                       index=["q-a", "q-b", "q-c"])


def config(url: str = "http://127.0.0.1:9/v1", **kwargs: object) -> OpenAIConfigObject:
    api = ApiConfig(Connection(base_url=url), "openai", 4, RetryPolicy(max_retries=1, initial_backoff_s=0.01),
                    **kwargs)
    return OpenAIConfigObject(OpenAIConfigSpec(api))


def schema_of(df: pd.DataFrame) -> knext.Schema:
    return knext.Table.from_pandas(df).schema


def chat(**settings: object) -> object:
    node = CreateChatCompletion()
    node.body.prompt_column = "question"
    for name, value in settings.items():
        group, attr = name.split("__")
        setattr(getattr(node, group), attr, value)
    return node


def answer(seen: Seen) -> Reply:
    content = seen.body["messages"][-1]["content"] if "messages" in seen.body else seen.body["prompt"]
    if "fail" in content:
        return Reply(400, {"error": {"message": "this row fails", "type": "invalid_request_error"}})
    reply = json.loads(json.dumps(CHAT_OK))
    reply["choices"][0]["message"]["content"] = f"answer to {content}"
    return Reply(body=reply)


def output_columns(table: knext.Table) -> dict[str, list]:
    return {name: list(values) for name, values in table.to_pandas().items()}


def test_configure_returns_the_exact_output_schema() -> None:
    spec_in = config().spec
    table_spec, passed = kh.run_configure(chat(), spec_in, schema_of(PROMPTS), ctx=kh.make_config_context(CREDS))
    assert table_spec.column_names == ["question", "n", "body", "status", "error"]
    assert [str(c.ktype) for c in table_spec][2:] == [str(knext.string()), str(knext.int32()), str(knext.string())]
    assert passed.config == spec_in.config
    parsed, _ = kh.run_configure(chat(settings__result_format="PARSED", settings__validation="WARN",
                                          settings__keep_input_columns=False),
                                     spec_in, schema_of(PROMPTS), ctx=kh.make_config_context(CREDS))
    assert parsed.column_names[:5] == ["body", "status", "error", "warning", "content"]
    assert "total_tokens" in parsed.column_names and "question" not in parsed.column_names


def test_a_node_wired_to_a_table_with_a_text_column_configures_and_runs_untouched() -> None:
    node = CreateChatCompletion()  # as placed: no setting touched
    table = pd.DataFrame({"n": [1], "question": ["Hi there"]}, index=["only"])
    table_spec, _ = kh.run_configure(node, config().spec, schema_of(table), ctx=kh.make_config_context(CREDS))
    assert table_spec.column_names == ["n", "question", "body", "status", "error"]
    assert node.body.prompt_column == "question"  # the first text column, shown in the dialog
    fresh = CreateChatCompletion()  # execute may run on a node KNIME built anew from the settings
    with FakeAPI() as api:
        out, _ = kh.run_execute(fresh, kh.make_exec_context(CREDS), config(api.url), table)
        assert api.bodies() == [{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi there"}]}]
    assert output_columns(out)["status"] == [200] and kh.row_ids(out) == ["only"]


def test_the_prompt_table_is_a_required_port() -> None:
    node = CreateChatCompletion()
    assert [p.optional for p in node.input_ports] == [False, False]
    with pytest.raises(ValueError, match="'Prompts' is not optional"):
        kh.run_configure(node, config().spec, None, ctx=kh.make_config_context(CREDS))


def test_a_table_without_text_needs_a_template() -> None:
    numbers = pd.DataFrame({"n": [1, 2]})
    with pytest.raises(knext.InvalidParametersError, match="the input table has no text column"):
        kh.run_configure(CreateChatCompletion(), config().spec, schema_of(numbers), ctx=kh.make_config_context(CREDS))
    node = chat(body__mode="TEMPLATE", body__template='{"model": "m", "messages": [{"role": "user", "content": '
                                                      '"Count to {{n}}"}]}')
    with FakeAPI() as api:
        kh.run_execute(node, kh.make_exec_context(CREDS), config(api.url), numbers)
        assert [b["messages"][0]["content"] for b in api.bodies()] == ["Count to 1", "Count to 2"]


def test_a_typed_model_name_is_sent() -> None:
    node = chat(body__model_from="NAME", body__model="my-finetune")
    with FakeAPI() as api:
        kh.run_execute(node, kh.make_exec_context(CREDS), config(api.url), PROMPTS.head(1))
        assert api.bodies()[0]["model"] == "my-finetune"


def test_a_message_left_in_the_model_dropdown_is_refused() -> None:
    node = chat(body__listed_model="⚠ the models could not be listed: HTTP 401")
    with pytest.raises(knext.InvalidParametersError, match="no model chosen .the models could not be listed"):
        kh.run_configure(node, config().spec, schema_of(PROMPTS), ctx=kh.make_config_context(CREDS))


@pytest.mark.parametrize("settings, credentials, message", [
    ({"body__mode": "TEMPLATE", "body__template": '{"model": "m", '}, CREDS, "not valid JSON"),
    ({"body__mode": "TEMPLATE", "body__template": '{"model": "{{modle}}"}'}, CREDS, "names no column"),
    ({"body__prompt_column": "questoin"}, CREDS, "Did you mean 'question'"),
    ({}, {}, "the credentials 'openai' are not available"),
    ({"body__mode": "COLUMN", "body__body_column": None}, CREDS, "no body column chosen"),
])
def test_bad_settings_fail_configure(settings: dict, credentials: dict, message: str) -> None:
    with pytest.raises(knext.InvalidParametersError, match=message):
        kh.run_configure(chat(**settings), config().spec, schema_of(PROMPTS),
                         ctx=kh.make_config_context(credentials))


def test_execute_sends_one_request_per_row_and_keeps_rowids(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    node = chat(settings__result_format="PARSED")
    ctx = kh.make_exec_context(CREDS)
    with FakeAPI() as api:
        api.handler = answer
        out, passed = kh.run_execute(node, ctx, config(api.url), PROMPTS)
        assert {s.headers["Authorization"] for s in api.seen} == {f"Bearer {KEY}"}
    assert kh.row_ids(out) == ["q-a", "q-b", "q-c"]
    got = output_columns(out)
    assert got["question"] == PROMPTS["question"].tolist() and got["n"] == [1, 2, 3]
    assert got["content"][:2] == ["answer to What is 2+2?", "answer to Name a colour."]
    assert got["status"] == [200, 200, 400] and got["error"][2] == "HTTP 400: this row fails (invalid_request_error)"
    assert passed.spec.config == config(api.url).spec.config
    assert ctx.flow_variables["llm_rows_ok"] == 2 and ctx.flow_variables["llm_rows_failed"] == 1
    assert ctx.flow_variables["llm_total_tokens"] == 12
    assert ctx.warnings == ["1 of 3 rows failed (HTTP 400: 1); see the error column"]
    assert ctx.progress and all(0.0 <= p <= 1.0 for p, _ in ctx.progress) and ctx.progress[-1][0] == 1.0
    everything = json.dumps([got, ctx.flow_variables.copy(), ctx.warnings, passed.spec.serialize(),
                             kh.settings_roundtrip(node)], default=str) + caplog.text
    assert KEY not in everything


def test_an_empty_table_gives_an_empty_table_with_every_column() -> None:
    node = chat(settings__result_format="PARSED")
    empty = PROMPTS.iloc[0:0]
    table_spec, _ = kh.run_configure(node, config().spec, schema_of(empty), ctx=kh.make_config_context(CREDS))
    with FakeAPI() as api:
        out, _ = kh.run_execute(node, kh.make_exec_context(CREDS), config(api.url), empty)
        assert api.seen == []
    assert out.num_rows == 0 and out.column_names == table_spec.column_names


def test_invalid_bodies_are_not_sent_in_strict_mode() -> None:
    node = chat(body__mode="TEMPLATE", body__template='{"model": "m", "messages": [{"role": "{{question}}", '
                                                      '"content": "x"}]}')
    with FakeAPI() as api:
        out, _ = kh.run_execute(node, kh.make_exec_context(CREDS), config(api.url), PROMPTS)
        assert api.seen == []
    errors = output_columns(out)["error"]
    assert errors[0] == ("validation: messages[0].role: 'What is 2+2?' is not one of "
                         "['developer', 'system', 'user', 'assistant', 'tool', 'function']")
    assert all(pd.isna(s) for s in output_columns(out)["status"])


def test_fail_on_first_failed_row_stops_the_node() -> None:
    with FakeAPI() as api:
        api.handler = answer
        with pytest.raises(knext.WorkflowExecutionError, match="row 3 failed: HTTP 400: this row fails"):
            kh.run_execute(chat(settings__fail_on_error=True), kh.make_exec_context(CREDS), config(api.url), PROMPTS)


def test_cancelling_stops_sending() -> None:
    many = pd.DataFrame({"question": [f"q{i}" for i in range(200)]})
    with FakeAPI() as api:
        api.default = Reply(delay=0.05)
        with pytest.raises((Cancelled, kh.ExecutionCanceled)):
            kh.run_execute(chat(), kh.make_exec_context(CREDS, cancel_after=3), config(api.url), many)
        sent = len(api.seen)
    assert sent < 200


def test_completion_node_posts_prompts_to_completions() -> None:
    node = CreateCompletion()
    node.body.prompt_column = "question"
    node.body.max_tokens = 16
    with FakeAPI() as api:
        out, _ = kh.run_execute(node, kh.make_exec_context(CREDS), config(api.url), PROMPTS.head(1))
        assert api.seen[0].path == "/v1/completions"
        assert api.seen[0].body == {"model": "gpt-3.5-turbo-instruct", "prompt": "What is 2+2?", "max_tokens": 16}
    assert output_columns(out)["status"] == [200]


def test_a_local_server_gets_no_auth_header() -> None:
    local = OpenAIConfigObject(OpenAIConfigSpec(ApiConfig(Connection(flavor=Flavor.NO_AUTH, base_url="http://x/v1"))))
    with FakeAPI() as api:
        spec = ApiConfig(Connection(base_url=api.url, flavor=Flavor.NO_AUTH))
        kh.run_execute(chat(), kh.make_exec_context({}), OpenAIConfigObject(OpenAIConfigSpec(spec)), PROMPTS.head(1))
        assert "Authorization" not in api.seen[0].headers
    assert local.spec.config.credential_name == ""


def test_request_node_settings_round_trip() -> None:
    for node in (chat(settings__result_format="PARSED"), CreateCompletion()):
        kh.settings_roundtrip(node)
