"""Whole runs over in-memory tables against a real local HTTP server."""

from __future__ import annotations

import pyarrow as pa
import pytest

from knime_llm.bodies import SimpleBody, column_body, simple_body, template_body
from knime_llm.errors import RowFailedError
from knime_llm.job import Job, check_job, check_schema, make_validator, run_job
from knime_llm.settings import Connection, Endpoint, Flavor, ResultFormat, RetryPolicy, RunOptions, Validation
from tests.fakeapi import CHAT_OK, FakeAPI, Reply, Seen

TEMPLATE = '{"model": "m", "messages": [{"role": "{{role}}", "content": "{{prompt}}"}]}'
FAST = RetryPolicy(max_retries=2, initial_backoff_s=0.01, max_backoff_s=0.02)


def table(n: int, *, role: str = "user") -> list[pa.RecordBatch]:
    data = pa.table({"id": list(range(n)), "role": [role] * n, "prompt": [f"q{i}" for i in range(n)]})
    return data.to_batches(max_chunksize=4)


def job_for(api: FakeAPI, template: str = TEMPLATE, columns: tuple[str, ...] = ("id", "role", "prompt"),
            **options: object) -> Job:
    run_options = RunOptions(**{"retry": FAST, "concurrency": 3, **options})
    return Job(Endpoint.CHAT, Connection(base_url=api.url, flavor=Flavor.NO_AUTH), run_options,
               template_body(template, list(columns)),
               make_validator(Endpoint.CHAT, run_options.validation))


def run(job: Job, batches: list[pa.RecordBatch], **kwargs: object) -> tuple[pa.Table, object]:
    written: list[pa.RecordBatch] = []
    summary = run_job(job, batches, written.append, **kwargs)
    schema = job.output_schema(batches[0].schema)
    assert all(b.schema == schema for b in written)
    return pa.Table.from_batches(written, schema=schema), summary


def echo(seen: Seen) -> Reply:
    """Answer with the prompt in the content, and fail the rows whose prompt says so."""
    prompt = seen.body["messages"][0]["content"]
    if prompt == "q5":
        return Reply(400, {"error": {"message": "no q5 please"}})
    return Reply(body={**CHAT_OK, "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": prompt.upper()}}]})


def test_every_row_yields_one_result_in_order_with_the_input_columns_kept() -> None:
    with FakeAPI() as api:
        api.handler = echo
        out, summary = run(job_for(api, result_format=ResultFormat.PARSED), table(10))
    assert out.column("id").to_pylist() == list(range(10))
    assert out.column("content").to_pylist() == [None if i == 5 else f"Q{i}" for i in range(10)]
    assert out.column("status").to_pylist() == [400 if i == 5 else 200 for i in range(10)]
    assert out.column("error").to_pylist()[5] == "HTTP 400: no q5 please"
    assert summary.rows == 10 and summary.ok == 9 and summary.failed == 1
    assert summary.total_tokens == 9 * 6 and summary.errors == {"HTTP 400": 1}


def test_strict_validation_keeps_invalid_rows_from_being_sent() -> None:
    with FakeAPI() as api:
        out, summary = run(job_for(api), table(3, role="bot"))
        assert api.seen == []
    errors = out.column("error").to_pylist()
    assert all(e.startswith("validation: messages[0].role: 'bot' is not one of") for e in errors)
    assert out.column("status").to_pylist() == [None] * 3 and summary.requests == 0


def test_warn_validation_sends_and_records_a_warning() -> None:
    with FakeAPI() as api:
        out, _ = run(job_for(api, validation=Validation.WARN), table(2, role="bot"))
        assert len(api.seen) == 2
    assert out.column("error").to_pylist() == [None, None]
    assert all(w.startswith("validation: messages[0].role") for w in out.column("warning").to_pylist())


def test_result_columns_never_clash_with_input_columns() -> None:
    batch = pa.record_batch({"body": ['{"model": "m", "messages": [{"role": "user", "content": "x"}]}'],
                             "status": ["keep me"]})
    with FakeAPI() as api:
        job = Job(Endpoint.CHAT, Connection(base_url=api.url), RunOptions(retry=FAST),
                  column_body("body", batch.schema.names))
        out, _ = run(job, [batch])
    assert out.column_names == ["body", "status", "body (#1)", "status (#1)", "error"]
    assert out.column("status").to_pylist() == ["keep me"] and out.column("status (#1)").to_pylist() == [200]


def test_identical_bodies_are_sent_once_with_dedupe() -> None:
    batch = pa.record_batch({"prompt": ["same", "other", "same", "same"]})
    with FakeAPI() as api:
        job = Job(Endpoint.CHAT, Connection(base_url=api.url), RunOptions(retry=FAST, deduplicate=True),
                  simple_body(SimpleBody("prompt", "m"), Endpoint.CHAT, ["prompt"]))
        out, summary = run(job, [batch])
        assert len(api.seen) == 2
    assert out.column("status").to_pylist() == [200] * 4
    assert summary.reused == 2 and summary.total_tokens == 2 * 6


def test_stop_on_error_fails_the_run_at_the_first_failed_row() -> None:
    with FakeAPI() as api:
        api.handler = echo
        with pytest.raises(RowFailedError, match="row 6 failed: HTTP 400: no q5 please"):
            run(job_for(api, stop_on_error=True, concurrency=1), table(12))


def test_a_table_without_placeholders_sends_one_request_per_row() -> None:
    batch = pa.record_batch({"x": [1, 2, 3]})
    with FakeAPI() as api:
        job = job_for(api, '{"model": "m", "messages": [{"role": "user", "content": "hi"}]}', ("x",))
        out, _ = run(job, [batch], threaded_io=False)
        assert len(api.seen) == 3
    assert out.num_rows == 3


def test_check_job_validates_without_sending() -> None:
    with FakeAPI() as api:
        job = job_for(api)
        batches = table(2) + table(1, role="bot")
        written: list[pa.RecordBatch] = []
        problems: list[tuple[int, str]] = []
        counts = check_job(job, batches, write=written.append, report=lambda i, e: problems.append((i, e)))
        assert api.seen == []
    assert counts == (2, 1)
    out = pa.Table.from_batches(written, schema=check_schema(batches[0].schema))
    assert out.column("valid").to_pylist() == [True, True, False]
    assert problems[0][0] == 2 and problems[0][1].startswith("validation: messages[0].role")


def test_slow_and_fast_rows_under_concurrency_keep_their_order() -> None:
    def varied(seen: Seen) -> Reply:
        index = int(seen.body["messages"][0]["content"][1:])
        body = {**CHAT_OK, "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": f"a{index}"}}]}
        return Reply(body=body, delay=0.15 if index % 5 == 0 else 0.0)

    with FakeAPI() as api:
        api.handler = varied
        # Every fifth row answers late, so rows behind it finish first; the output order holds.
        out, _ = run(job_for(api, concurrency=8, result_format=ResultFormat.PARSED), table(30))
    assert out.column("content").to_pylist() == [f"a{i}" for i in range(30)]
    assert out.column("id").to_pylist() == list(range(30))


def test_output_batches_are_equal_sized_across_input_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import knime_llm.job as job_module

    monkeypatch.setattr(job_module, "OUTPUT_ROWS", 5)
    written: list[pa.RecordBatch] = []
    with FakeAPI() as api:
        api.handler = echo
        job = job_for(api, result_format=ResultFormat.PARSED)
        run_job(job, table(13), written.append)  # input chunks of 4 rows
    assert [b.num_rows for b in written] == [5, 5, 3]  # all but the last the same size (KNIME's rule)
    out = pa.Table.from_batches(written)
    assert out.column("id").to_pylist() == list(range(13))
    assert out.column("content").to_pylist() == [None if i == 5 else f"Q{i}" for i in range(13)]
