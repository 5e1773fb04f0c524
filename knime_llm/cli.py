"""The ``knime-llm`` command line: the engine of the KNIME nodes, run on CSV, Parquet or JSONL files.

::

    knime-llm chat INPUT OUTPUT [options]          POST {base_url}/chat/completions per row
    knime-llm completion INPUT OUTPUT [options]    POST {base_url}/completions per row
    knime-llm validate chat|completion INPUT [OUTPUT]   check bodies, no network

Bad input gives one line on stderr and exit status 2 (settings) or 1 (data), never a traceback;
Ctrl-C stops sending at once and still writes one output row per input row (the unsent ones
marked as cancelled); a second Ctrl-C aborts without writing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import pyarrow as pa

from . import __version__
from .bodies import SimpleBody, column_body, simple_body, template_body
from .errors import ConfigError, KnimeLlmError
from .job import Job, check_job, check_schema, make_validator, run_job
from .settings import (
    DEFAULT_BASE_URL,
    Connection,
    Endpoint,
    Flavor,
    RateLimits,
    ResultFormat,
    RetryPolicy,
    RunOptions,
    Secret,
    Validation,
    parse_header,
)
from .tablefiles import open_input, open_output
from .templates import Template

EXIT_DATA = 1
EXIT_CONFIG = 2
EXIT_CANCELLED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (also used as the console script)."""
    parser = _parser()
    args = parser.parse_args(argv)
    # Arrow's default allocator keeps the pages of freed batches, so a long run's memory would
    # creep with the row count; the system allocator gives them back (bench/RESULTS.md, Scale).
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        if args.command == "validate":
            return _validate(args)
        return _run(args)
    except ConfigError as err:
        _fail(str(err))
        return EXIT_CONFIG
    except KnimeLlmError as err:
        _fail(str(err))
        return EXIT_DATA
    except KeyboardInterrupt:
        _fail("aborted; the output file was not completed")
        return EXIT_CANCELLED


def _fail(message: str) -> None:
    print(f"knime-llm: error: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="knime-llm",
        description="Send one OpenAI request per row of a CSV, Parquet or JSONL table and write "
                    "one result row per input row.")
    parser.add_argument("--version", action="version", version=f"knime-llm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in (("chat", "POST each row to {base_url}/chat/completions"),
                            ("completion", "POST each row to {base_url}/completions")):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("input", metavar="INPUT", help="prompt table: .csv, .parquet or .jsonl")
        sub.add_argument("output", metavar="OUTPUT", help="result table: .csv, .parquet or .jsonl")
        _body_options(sub)
        _connection_options(sub)
        _run_options(sub)
    check = commands.add_parser("validate", help="check request bodies against the OpenAI schema, offline",
                                description="Check every row's body and write 'valid' and 'error' per row.")
    check.add_argument("endpoint", choices=["chat", "completion"])
    check.add_argument("input", metavar="INPUT")
    check.add_argument("output", metavar="OUTPUT", nargs="?",
                       help="where to write valid/error per row (default: list the invalid rows)")
    _body_options(check)
    return parser


def _body_options(sub: argparse.ArgumentParser) -> None:
    body = sub.add_argument_group("request bodies (choose one of --template, --body-column, --prompt-column)")
    body.add_argument("--template", metavar="FILE", help="JSON body template with {{column}} placeholders")
    body.add_argument("--body-column", metavar="COL", help="column holding each row's whole JSON body")
    body.add_argument("--prompt-column", metavar="COL", help="column holding each row's prompt (simple mode)")
    body.add_argument("--model", help="model name (simple mode)")
    body.add_argument("--system", metavar="TEXT", help="system message (simple mode, chat)")
    body.add_argument("--temperature", type=float, help="sampling temperature (simple mode)")
    body.add_argument("--max-tokens", type=int, metavar="N",
                      help="reply length limit (simple mode; max_completion_tokens for chat)")
    body.add_argument("--legacy-max-tokens", action="store_true",
                      help="send max_tokens instead of max_completion_tokens (older chat servers)")
    body.add_argument("--seed", type=int, help="sampling seed (simple mode)")
    body.add_argument("--stop", action="append", default=[], metavar="TEXT",
                      help="stop sequence (simple mode; repeat for up to 4)")
    body.add_argument("--response-format", metavar="text|json_object|FILE",
                      help="response format (simple mode, chat): text, json_object, or a JSON Schema file")
    body.add_argument("--validation", choices=[v.value for v in Validation], default="strict",
                      help="strict: invalid rows are not sent; warn: sent with a warning; off (default: strict)")
    body.add_argument("--schema", metavar="FILE",
                      help="another OpenAPI spec or JSON Schema to validate against (servers with extensions)")
    body.add_argument("--delimiter", help="CSV field delimiter (default: detected among , ; tab |)")


def _connection_options(sub: argparse.ArgumentParser) -> None:
    conn = sub.add_argument_group("connection")
    conn.add_argument("--base-url", default=None,
                      help=f"API base URL (default: $OPENAI_BASE_URL, else {DEFAULT_BASE_URL})")
    conn.add_argument("--api-key-env", metavar="NAME", default=None,
                      help="environment variable holding the API key (default OPENAI_API_KEY; no key, no auth)")
    conn.add_argument("--api-flavor", choices=["openai", "azure"], default="openai",
                      help="openai: Authorization: Bearer; azure: api-key header and api-version")
    conn.add_argument("--api-version", help="Azure OpenAI api-version (default for classic deployment URLs: "
                                           "2024-10-21; none for .../openai/v1)")
    conn.add_argument("--organization", help="OpenAI-Organization header")
    conn.add_argument("--project", help="OpenAI-Project header")
    conn.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                      help="extra request header (repeatable)")
    conn.add_argument("--timeout", type=float, default=600.0, metavar="S",
                      help="read timeout per request in seconds (default 600)")
    conn.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                      help="connect timeout in seconds (default 10)")
    conn.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (test servers only)")
    conn.add_argument("--ca-bundle", metavar="FILE", help="PEM file of certificate authorities to trust")


def _run_options(sub: argparse.ArgumentParser) -> None:
    run = sub.add_argument_group("run")
    run.add_argument("--concurrency", type=int, default=RunOptions.concurrency,
                     help=f"requests in flight at once (default {RunOptions.concurrency})")
    run.add_argument("--max-retries", type=int, default=RetryPolicy.max_retries,
                     help=f"retries per row for 408/409/429/5xx, timeouts and connection errors "
                          f"(default {RetryPolicy.max_retries})")
    run.add_argument("--max-wait", type=float, default=RetryPolicy.max_wait_s, metavar="S",
                     help=f"longest a row waits in total for retries before it fails "
                          f"(default {RetryPolicy.max_wait_s:g})")
    run.add_argument("--rpm", type=float, help="requests-per-minute budget")
    run.add_argument("--tpm", type=float, help="tokens-per-minute budget")
    run.add_argument("--format", choices=[f.value for f in ResultFormat], default="raw",
                     help="raw: body, status, error; parsed: also the answer, tokens, timing (default raw)")
    run.add_argument("--dedupe", action="store_true", help="send identical bodies once and reuse the answer")
    run.add_argument("--fail-fast", action="store_true", help="stop at the first failed row (exit status 1)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")


def _body_source(args: argparse.Namespace, endpoint: Endpoint, columns: Sequence[str]) -> Template:
    chosen = [name for name, value in (("--template", args.template), ("--body-column", args.body_column),
                                       ("--prompt-column", args.prompt_column)) if value]
    if len(chosen) != 1:
        raise ConfigError("choose exactly one way to build bodies: --template FILE, --body-column COL "
                          "or --prompt-column COL" + (f" (got {' and '.join(chosen)})" if chosen else ""))
    simple_only = [opt for opt, value in (("--model", args.model), ("--system", args.system),
                                          ("--temperature", args.temperature), ("--max-tokens", args.max_tokens),
                                          ("--seed", args.seed), ("--stop", args.stop),
                                          ("--response-format", args.response_format)) if value not in (None, [])]
    if not args.prompt_column and simple_only:
        raise ConfigError(f"{', '.join(simple_only)} only apply with --prompt-column; put them in the "
                          "template or body column instead")
    if args.template:
        return template_body(_read_text(args.template, "template"), columns)
    if args.body_column:
        return column_body(args.body_column, columns)
    if not args.model:
        raise ConfigError("--prompt-column needs --model (e.g. --model gpt-4o-mini)")
    settings = SimpleBody(prompt_column=args.prompt_column, model=args.model, system=args.system,
                          temperature=args.temperature, max_tokens=args.max_tokens,
                          legacy_max_tokens=args.legacy_max_tokens, seed=args.seed, stop=tuple(args.stop),
                          response_format=_response_format(args.response_format))
    return simple_body(settings, endpoint, columns)


def _response_format(value: str | None) -> str | dict[str, Any] | None:
    if value is None or value in ("text", "json_object"):
        return value
    try:
        schema = orjson.loads(_read_text(value, "response format"))
    except orjson.JSONDecodeError as err:
        raise ConfigError(f"response format file {value} is not JSON: {err}") from None
    if not isinstance(schema, dict):
        raise ConfigError(f"response format file {value} must hold a JSON object (a JSON Schema)")
    return schema


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {what} file {path}: {err}") from None


def _connection(args: argparse.Namespace) -> Connection:
    key_env = args.api_key_env or "OPENAI_API_KEY"
    key = os.environ.get(key_env, "").strip()
    if args.api_key_env and not key:
        raise ConfigError(f"environment variable {key_env} (given with --api-key-env) is not set or empty")
    flavor = Flavor(args.api_flavor) if key else Flavor.NO_AUTH
    if args.api_flavor == "azure" and not key:
        raise ConfigError(f"--api-flavor azure needs a key: set {key_env} or name another variable "
                          "with --api-key-env")
    return Connection(base_url=args.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
                      flavor=flavor, api_key=Secret(key) if key else None, api_version=args.api_version,
                      organization=args.organization, project=args.project,
                      headers=tuple(parse_header(h) for h in args.header),
                      connect_timeout_s=args.connect_timeout, read_timeout_s=args.timeout,
                      verify_tls=not args.insecure, ca_bundle=args.ca_bundle)


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(concurrency=args.concurrency, validation=Validation(args.validation),
                      result_format=ResultFormat(args.format), deduplicate=args.dedupe,
                      stop_on_error=args.fail_fast,
                      retry=RetryPolicy(max_retries=args.max_retries, max_wait_s=args.max_wait),
                      limits=RateLimits(requests_per_minute=args.rpm, tokens_per_minute=args.tpm))


def _check_paths(source: str, target: str | None) -> None:
    if target is not None and Path(source).resolve() == Path(target).resolve():
        raise ConfigError(f"OUTPUT {target} is the INPUT file; write the results to another file")


def _run(args: argparse.Namespace) -> int:
    endpoint = Endpoint(args.command)
    _check_paths(args.input, args.output)
    connection = _connection(args)
    options = _options(args)
    with open_input(args.input, delimiter=args.delimiter) as table:
        job = Job(endpoint, connection, options, _body_source(args, endpoint, table.schema.names),
                  make_validator(endpoint, options.validation, args.schema))
        with open_output(args.output, job.output_schema(table.schema)) as writer, \
                _Interrupts() as interrupts, _progress_bar(table.num_rows, args.quiet) as bar:
            summary = run_job(job, table.batches(), writer.write, total=table.num_rows,
                              progress=bar, cancelled=interrupts.requested, drain_on_cancel=True)
    if not args.quiet:
        print(summary.line())
    if interrupts.requested():
        _fail(f"cancelled: rows not answered are marked 'cancelled' in {args.output}")
        return EXIT_CANCELLED
    return 0


def _validate(args: argparse.Namespace) -> int:
    endpoint = Endpoint(args.endpoint)
    _check_paths(args.input, args.output)
    with open_input(args.input, delimiter=args.delimiter) as table:
        job = Job(endpoint, Connection(), RunOptions(validation=Validation.STRICT),
                  _body_source(args, endpoint, table.schema.names),
                  make_validator(endpoint, Validation.STRICT, args.schema))
        if args.output is None:
            valid, invalid = check_job(job, table.batches(), report=_print_invalid)
        else:
            with open_output(args.output, check_schema(table.schema)) as writer:
                valid, invalid = check_job(job, table.batches(), write=writer.write)
    print(f"{valid + invalid:,} rows: {valid:,} valid, {invalid:,} invalid")
    return 0 if invalid == 0 else EXIT_DATA


def _print_invalid(row_index: int, error: str) -> None:
    print(f"row {row_index + 1}: {error}")


class _Interrupts:
    """First Ctrl-C: stop sending and finish writing; second: abort at once."""

    def __init__(self) -> None:
        self._count = 0
        self._previous: Any = None

    def requested(self) -> bool:
        return self._count > 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._count += 1
        if self._count == 1:
            print("\nknime-llm: stopping: no new requests; writing the output (Ctrl-C again to abort)",
                  file=sys.stderr)
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> _Interrupts:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


class _progress_bar:
    """A tqdm bar on a terminal (nothing otherwise), usable as the run's progress callback."""

    def __init__(self, total: int, quiet: bool) -> None:
        self._bar: Any = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm
            self._bar = tqdm(total=total, unit="row", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    def __enter__(self) -> _progress_bar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()


if __name__ == "__main__":
    sys.exit(main())
