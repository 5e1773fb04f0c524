"""A real language model (SmolLM2-135M behind llama-cpp-python's OpenAI server): CLI and nodes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import knime.extension as knext
import pandas as pd
import pytest

from knime_llm.cli import main
from knime_llm.nodes.completions import CreateChatCompletion
from knime_llm.nodes.connector import OpenAIConnector
from knime_llm.nodes.modelchoice import server_models
from tests import knime_harness as kh  # first: installs KNIME's backends for the real package

pytestmark = pytest.mark.llama

DETERMINISTIC = ["--model", "smollm2", "--temperature", "0", "--seed", "42", "--max-tokens", "12",
                 "--concurrency", "1", "--format", "parsed"]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_chat_is_deterministic_and_fills_the_usage_columns(llama_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "id,prompt\n1,Say hello.\n2,Name a fruit.\n")
    for name in ("a.csv", "b.csv"):
        assert main(["chat", str(source), str(tmp_path / name), "--base-url", llama_url, "--prompt-column",
                     "prompt", *DETERMINISTIC, "--legacy-max-tokens", "--quiet"]) == 0
    first, second = rows(tmp_path / "a.csv"), rows(tmp_path / "b.csv")
    assert [r["content"] for r in first] == [r["content"] for r in second]
    for row in first:
        assert row["status"] == "200" and row["error"] == "" and row["content"].strip()
        assert int(row["prompt_tokens"]) > 0 and 0 < int(row["completion_tokens"]) <= 12
        assert int(row["total_tokens"]) == int(row["prompt_tokens"]) + int(row["completion_tokens"])
        assert row["finish_reason"] in ("stop", "length") and row["model"] == "smollm2"


def test_cli_completion(llama_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", '{"prompt": "The capital of France is"}\n')
    assert main(["completion", str(source), str(tmp_path / "out.jsonl"), "--base-url", llama_url,
                 "--prompt-column", "prompt", *DETERMINISTIC, "--quiet"]) == 0
    [row] = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert row["status"] == 200 and row["text"] and row["completion_tokens"] > 0


def test_a_body_the_server_answers_with_500_is_an_error_row_and_the_others_succeed(
        llama_url: str, tmp_path: Path) -> None:
    # The developer role is valid under the OpenAI schema but llama-cpp-python rejects it with 500.
    bodies = [{"model": "smollm2", "max_tokens": 8, "temperature": 0,
               "messages": [{"role": "user", "content": "Hi"}]},
              {"model": "smollm2", "max_tokens": 8,
               "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
              {"model": "smollm2", "max_tokens": 8, "temperature": 0,
               "messages": [{"role": "user", "content": "Bye"}]}]
    source = write(tmp_path / "in.jsonl", "".join(json.dumps({"body": b}) + "\n" for b in bodies))
    assert main(["chat", str(source), str(tmp_path / "out.csv"), "--base-url", llama_url, "--body-column",
                 "body", "--concurrency", "2", "--max-retries", "1", "--quiet"]) == 0
    out = rows(tmp_path / "out.csv")
    assert [r["status"] for r in out] == ["200", "500", "200"]
    assert out[1]["error"].startswith("HTTP 500: ") and "gave up after 2 attempts" in out[1]["error"]
    assert out[1]["body"]  # the server's own error body is kept


def test_a_streamed_request_is_assembled_into_one_response(llama_url: str, tmp_path: Path) -> None:
    template = write(tmp_path / "t.json", json.dumps({
        "model": "smollm2", "stream": True, "max_tokens": 12, "temperature": 0, "seed": 42,
        "messages": [{"role": "user", "content": "{{prompt}}"}]}))
    source = write(tmp_path / "in.csv", "prompt\nSay hello.\n")
    assert main(["chat", str(source), str(tmp_path / "s.csv"), "--base-url", llama_url, "--template",
                 str(template), "--format", "parsed", "--quiet"]) == 0
    [row] = rows(tmp_path / "s.csv")
    body = json.loads(row["body"])
    assert body["object"] == "chat.completion" and row["content"].strip()
    assert body["choices"][0]["finish_reason"] in ("stop", "length")


def test_the_nodes_end_to_end(llama_url: str) -> None:
    connector = OpenAIConnector()
    connector.base_url = llama_url
    connector.flavor = "NO_AUTH"
    connector.throughput.concurrency = 1
    ctx = kh.make_exec_context({})
    [config] = kh.run_execute(connector, ctx)
    assert "smollm2" in ctx.flow_variables["llm_models"]

    prompts = pd.DataFrame({"question": ["Say hello.", "Name a colour."]}, index=["r1", "r2"])
    node = CreateChatCompletion()  # the first text column is the message
    dialog = kh.make_dialog_context(specs=[config.spec, knext.Table.from_pandas(prompts).schema])
    assert "smollm2" in server_models(dialog)  # the model dropdown, as the dialog fills it
    node.body.listed_model = "smollm2"
    node.body.max_tokens = 12
    node.body.use_temperature = True
    node.body.temperature = 0.0
    node.settings.result_format = "PARSED"
    exec_ctx = kh.make_exec_context({})
    out, passed = kh.run_execute(node, exec_ctx, config, prompts)
    assert kh.row_ids(out) == ["r1", "r2"]
    got = out.to_pandas()
    assert got["status"].tolist() == [200, 200] and all(got["content"].str.strip().str.len() > 0)
    assert (got["total_tokens"] > 0).all()
    assert exec_ctx.flow_variables["llm_rows_ok"] == 2 and passed.spec.config == config.spec.config
