"""The knime-llm command line, end to end on files against a real local HTTP server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from knime_llm.cli import main
from tests.fakeapi import FakeAPI, Reply

KEY = "sk-cli-secret-0123456789abcdefghij"
TEMPLATE = '{"model": "m", "temperature": "{{t}}", "messages": [{"role": "user", "content": "{{prompt}}"}]}'


@pytest.fixture
def api():
    with FakeAPI() as server:
        yield server


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    import csv
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_chat_simple_mode_csv_to_csv_keeps_every_input_cell(api: FakeAPI, tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "in.csv",
                   "id,prompt,zip\n9007199254740993,Say hi,00123\n2,NA,\n3,\"a, \"\"quoted\"\"\nline\",7\n")
    code = main(["chat", str(source), str(tmp_path / "out.csv"), "--base-url", api.url, "--prompt-column",
                 "prompt", "--model", "m", "--system", "Be terse.", "--format", "parsed"])
    assert code == 0
    rows = read_csv_rows(tmp_path / "out.csv")
    assert [r["id"] for r in rows] == ["9007199254740993", "2", "3"]
    assert [r["prompt"] for r in rows] == ["Say hi", "NA", 'a, "quoted"\nline']
    assert [r["zip"] for r in rows] == ["00123", "", "7"]
    assert [r["status"] for r in rows] == ["200"] * 3 and [r["content"] for r in rows] == ["hello"] * 3
    assert [b["messages"][1]["content"] for b in api.bodies()] == ["Say hi", "NA", 'a, "quoted"\nline']
    assert api.seen[0].path == "/v1/chat/completions"
    assert capsys.readouterr().out.startswith("3 rows: 3 ok, 0 failed · 18 tokens")


def test_template_mode_jsonl_to_parquet_with_typed_cells(api: FakeAPI, tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", '{"prompt": "x", "t": 0.5}\n{"prompt": "y", "t": 1}\n')
    template = write(tmp_path / "body.json", TEMPLATE)
    assert main(["chat", str(source), str(tmp_path / "out.parquet"), "--base-url", api.url,
                 "--template", str(template)]) == 0
    assert sorted((b["messages"][0]["content"], b["temperature"]) for b in api.bodies()) == [("x", 0.5), ("y", 1)]
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column_names == ["prompt", "t", "body", "status", "error"]
    assert out.column("status").to_pylist() == [200, 200]


def test_body_column_mode_and_the_completion_endpoint(api: FakeAPI, tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", '{"request": {"model": "m", "prompt": "The sky is"}}\n')
    assert main(["completion", str(source), str(tmp_path / "out.jsonl"), "--base-url", api.url + "/",
                 "--body-column", "request"]) == 0
    assert api.seen[0].path == "/v1/completions" and api.bodies() == [{"model": "m", "prompt": "The sky is"}]
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out[0]["request"] == {"model": "m", "prompt": "The sky is"} and out[0]["status"] == 200


def test_key_from_the_environment_is_sent_and_never_written(api: FakeAPI, tmp_path: Path, capsys,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", KEY)
    api.queue(Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    source = write(tmp_path / "in.csv", "prompt\nhello\nagain\n")
    assert main(["chat", str(source), str(tmp_path / "out.csv"), "--base-url", api.url, "--api-key-env",
                 "MY_KEY", "--prompt-column", "prompt", "--model", "m"]) == 0
    assert api.seen[0].headers["Authorization"] == f"Bearer {KEY}"
    captured = capsys.readouterr()
    assert KEY not in (tmp_path / "out.csv").read_text() and KEY not in captured.out + captured.err
    errors = [r["error"] for r in read_csv_rows(tmp_path / "out.csv")]
    assert sorted(errors) == ["", "HTTP 401: Incorrect API key provided: ***"]


def test_no_key_means_no_auth_header_and_base_url_from_the_environment(
        api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", api.url)
    source = write(tmp_path / "in.csv", "prompt\nhello\n")
    assert main(["chat", str(source), str(tmp_path / "out.csv"), "--prompt-column", "prompt", "--model", "m"]) == 0
    assert "Authorization" not in api.seen[0].headers


def test_semicolon_csv_from_excel_is_detected(api: FakeAPI, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("\ufeffid;prompt\n1;Bonjour, monde\n".encode())
    assert main(["chat", str(source), str(tmp_path / "out.csv"), "--base-url", api.url,
                 "--prompt-column", "prompt", "--model", "m"]) == 0
    assert api.bodies()[0]["messages"][0]["content"] == "Bonjour, monde"
    assert read_csv_rows(tmp_path / "out.csv")[0]["id"] == "1"


@pytest.mark.parametrize("args, code, message", [
    (["chat", "{missing}", "{out}", "--prompt-column", "p", "--model", "m"], 1, "does not exist"),
    (["chat", "{input}", "{out}", "--prompt-column", "promt", "--model", "m"], 2,
     "prompt column 'promt' is not in the table. Did you mean 'prompt'?"),
    (["chat", "{input}", "{out}", "--template", "{bad_template}"], 2, "not valid JSON"),
    (["chat", "{input}", "{out}", "--template", "{unknown_template}"], 2, "{{text}} at messages[0].content"),
    (["chat", "{input}", "{out}"], 2, "choose exactly one way to build bodies"),
    (["chat", "{input}", "{out}", "--prompt-column", "prompt"], 2, "--prompt-column needs --model"),
    (["chat", "{input}", "{out}", "--body-column", "prompt", "--model", "m"], 2, "only apply with --prompt-column"),
    (["chat", "{input}", "{input}", "--prompt-column", "prompt", "--model", "m"], 2, "is the INPUT file"),
    (["chat", "{input}", "{out_xlsx}", "--prompt-column", "prompt", "--model", "m"], 2, ".xlsx"),
    (["chat", "{input}", "{out}", "--prompt-column", "prompt", "--model", "m", "--base-url", "localhost:8000"],
     2, "is not an http(s) URL"),
    (["chat", "{input}", "{out}", "--prompt-column", "prompt", "--model", "m", "--header", "NoColon"],
     2, "is not of the form 'Name: value'"),
    (["chat", "{input}", "{out}", "--prompt-column", "prompt", "--model", "m", "--concurrency", "0"],
     2, "concurrency must be between 1 and 4096"),
    (["chat", "{input}", "{out}", "--prompt-column", "prompt", "--model", "m", "--api-key-env", "NOPE_KEY"],
     2, "NOPE_KEY (given with --api-key-env) is not set"),
    (["chat", "{input}", "{out}", "--prompt-column", "prompt", "--model", "m", "--schema", "{missing}"],
     2, "missing"),
])
def test_bad_input_gives_one_clear_line_and_no_traceback(tmp_path: Path, capsys, args: list[str], code: int,
                                                         message: str) -> None:
    paths = {"input": write(tmp_path / "in.csv", "prompt\nhi\n"), "out": tmp_path / "out.csv",
             "missing": tmp_path / "missing.csv", "out_xlsx": tmp_path / "out.xlsx",
             "bad_template": write(tmp_path / "bad.json", '{"model": '),
             "unknown_template": write(tmp_path / "t.json",
                                       '{"model": "m", "messages": [{"role": "user", "content": "{{text}}"}]}')}
    assert main([a.format(**paths) for a in args]) == code
    err = capsys.readouterr().err
    assert err.startswith("knime-llm: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out.csv").exists()


def test_validate_lists_invalid_rows_and_exits_1(tmp_path: Path, capsys) -> None:
    source = write(tmp_path / "in.jsonl", '{"body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}\n'
                                          '{"body": {"model": "m", "messages": []}}\n')
    assert main(["validate", "chat", str(source), "--body-column", "body"]) == 1
    out = capsys.readouterr().out
    assert "row 2: validation: messages: " in out and out.strip().endswith("2 rows: 1 valid, 1 invalid")


def test_validate_writes_valid_and_error_per_row(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "prompt\nhi\n")
    assert main(["validate", "completion", str(source), str(tmp_path / "v.csv"), "--prompt-column", "prompt",
                 "--model", "m"]) == 0
    assert read_csv_rows(tmp_path / "v.csv") == [{"prompt": "hi", "valid": "true", "error": ""}]


def test_ctrl_c_stops_sending_and_still_writes_one_row_per_input_row(tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "prompt\n" + "".join(f"p{i}\n" for i in range(200)))
    output = tmp_path / "out.csv"
    with FakeAPI() as api:
        api.default = Reply(delay=0.05)
        process = subprocess.Popen(
            [sys.executable, "-m", "knime_llm.cli", "chat", str(source), str(output), "--base-url", api.url,
             "--prompt-column", "prompt", "--model", "m", "--concurrency", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
        while len(api.seen) < 6:
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        sent_at_exit = len(api.seen)
        time.sleep(0.2)
        assert len(api.seen) == sent_at_exit  # nothing more was sent after the process ended
    assert process.returncode == 130, err
    rows = read_csv_rows(output)
    assert len(rows) == 200 and [r["prompt"] for r in rows] == [f"p{i}" for i in range(200)]
    done = [r for r in rows if r["status"] == "200"]
    assert 1 <= len(done) <= sent_at_exit < 200
    assert all(r["error"].startswith("cancelled") for r in rows if r["status"] != "200")
    assert "Traceback" not in err and "cancelled" in err


def test_the_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run([Path(sys.executable).parent / "knime-llm", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("knime-llm ")


def test_a_custom_schema_file_replaces_the_official_one(api: FakeAPI, tmp_path: Path) -> None:
    schema = write(tmp_path / "local.schema.json", json.dumps({
        "type": "object", "required": ["model", "messages", "repetition_penalty"],
        "properties": {"repetition_penalty": {"type": "number", "minimum": 1}}}))
    source = write(tmp_path / "in.jsonl", '{"b": {"model": "m", "messages": [], "repetition_penalty": 1.1}}\n'
                                          '{"b": {"model": "m", "messages": [], "repetition_penalty": 0.5}}\n')
    assert main(["chat", str(source), str(tmp_path / "out.csv"), "--base-url", api.url, "--body-column", "b",
                 "--schema", str(schema)]) == 0
    out = read_csv_rows(tmp_path / "out.csv")
    assert out[0]["status"] == "200"  # empty messages pass: the user's schema is used, not OpenAI's
    assert out[1]["error"] == "validation: repetition_penalty: 0.5 is less than the minimum of 1"
    assert len(api.seen) == 1


def test_surrounding_whitespace_around_the_key_is_ignored(api: FakeAPI, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f"  {KEY}\n")
    source = write(tmp_path / "in.csv", "prompt\nhello\n")
    assert main(["chat", str(source), str(tmp_path / "out.csv"), "--base-url", api.url, "--prompt-column",
                 "prompt", "--model", "m"]) == 0
    assert api.seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_the_old_format_name_is_refused_with_the_new_choices(tmp_path: Path, capsys) -> None:
    # 0.2.0 renamed --format structured to --format parsed, with no silent alias (CHANGELOG.md).
    source = write(tmp_path / "in.csv", "prompt\nhi\n")
    with pytest.raises(SystemExit) as stop:
        main(["chat", str(source), str(tmp_path / "out.csv"), "--prompt-column", "prompt", "--model", "m",
              "--format", "structured"])
    assert stop.value.code == 2
    assert "invalid choice: 'structured' (choose from 'raw', 'parsed')" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
