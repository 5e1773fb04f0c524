"""One benchmark client run, in a process of its own; prints one JSON line with its figures.

::

    python bench/client.py KIND --base-url URL --rows N --concurrency C [--input FILE --output FILE]

KIND is one of:

* ``ours``: the ``knime-llm chat`` command line (its ``main``, called in this process after
  the imports, so interpreter start-up is not timed; reading the input file, validating,
  parsing and writing the parsed output are);
* ``sdk``: the openai SDK as an expert writes it in a Python Script node: ``AsyncOpenAI`` and a
  semaphore of C around ``chat.completions.create``;
* ``groups``: the SDK in fixed groups of C, each group waiting for its slowest request (how
  KNIME's AI extension batches);
* ``bare``: a lean aiohttp client: one session, a semaphore, the body serialised and the
  response read, nothing validated or parsed (the bare-transport reference);
* ``lean``: the minimal ``asyncio.Protocol`` client of ``lean_http.py`` (plain HTTP only): what
  a Python client costs when only the bytes are handled, the lower bound for any transport.

The JSON line holds ``wall_s`` and ``cpu_s`` of the timed part (from before the client is built
to the last answer), the number of rows answered with 200 and the number that were not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latency

MODEL = "bench-model"


def _messages(row: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": latency.prompt(row)}]


def run_ours(args: argparse.Namespace) -> None:
    """The knime-llm command line on the input file (rows are counted from its output later)."""
    from knime_llm import cli

    argv = [
        "chat",
        args.input,
        args.output,
        "--base-url",
        args.base_url,
        "--prompt-column",
        "prompt",
        "--model",
        MODEL,
        "--concurrency",
        str(args.concurrency),
        "--format",
        "parsed",
        "--max-retries",
        str(args.max_retries),
        "--quiet",
    ]
    status = cli.main(argv)
    if status != 0:
        raise SystemExit(f"knime-llm exited with {status}")


def _count_output(path: str) -> tuple[int, int]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not path.endswith(".parquet"):
        return -1, -1
    status = pq.read_table(path, columns=["status"]).column("status")
    ok = pc.sum(pc.equal(status, 200)).as_py() or 0
    return ok, len(status) - ok


async def run_sdk(args: argparse.Namespace) -> tuple[int, int]:
    """AsyncOpenAI with a semaphore of C: every row a task, C in flight at once."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=args.base_url, api_key="bench", max_retries=args.max_retries)
    semaphore = asyncio.Semaphore(args.concurrency)

    async def one(row: int) -> bool:
        async with semaphore:
            return await _sdk_call(client, row)

    try:
        results = await asyncio.gather(*(one(row) for row in range(args.rows)))
    finally:
        await client.close()
    return sum(results), len(results) - sum(results)


async def run_groups(args: argparse.Namespace) -> tuple[int, int]:
    """The SDK in fixed groups of C rows; the next group starts when the slowest one is back."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=args.base_url, api_key="bench", max_retries=args.max_retries)
    ok = 0
    try:
        for start in range(0, args.rows, args.concurrency):
            group = range(start, min(start + args.concurrency, args.rows))
            ok += sum(await asyncio.gather(*(_sdk_call(client, row) for row in group)))
    finally:
        await client.close()
    return ok, args.rows - ok


async def _sdk_call(client: Any, row: int) -> bool:
    from openai import OpenAIError

    try:
        reply = await client.chat.completions.create(model=MODEL, messages=_messages(row))
    except OpenAIError:
        return False
    return bool(reply.choices)


async def run_bare(args: argparse.Namespace) -> tuple[int, int]:
    """One aiohttp session, a semaphore of C; serialise the body, read the response, no more."""
    import aiohttp
    import orjson

    url = args.base_url + "/chat/completions"
    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}
    semaphore = asyncio.Semaphore(args.concurrency)
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(row: int) -> bool:
            payload = orjson.dumps({"model": MODEL, "messages": _messages(row)})
            async with semaphore, session.post(url, data=payload) as response:
                await response.read()
                return response.status == 200

        results = await asyncio.gather(*(one(row) for row in range(args.rows)))
    return sum(results), len(results) - sum(results)


def _wait_for_go(go: Path) -> None:
    """Say ready (``<go>.<pid>.ready``) and wait until ``go`` exists: all clients start together."""
    go.with_name(f"{go.name}.{os.getpid()}.ready").touch()
    while not go.exists():
        time.sleep(0.002)


async def run_lean(args: argparse.Namespace) -> tuple[int, int]:
    """The minimal ``asyncio.Protocol`` client of ``lean_http.py``: the lower bound."""
    import lean_http
    import orjson

    def payload(row: int) -> bytes:
        return orjson.dumps({"model": MODEL, "messages": _messages(row)})

    ok = await lean_http.run(args.base_url + "/chat/completions", payload, args.rows,
                             args.concurrency)
    return ok, args.rows - ok


KINDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "ours": run_ours,
    "sdk": run_sdk,
    "groups": run_groups,
    "bare": run_bare,
    "lean": run_lean,
}


def main() -> None:
    """Parse the options, run the client once, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--input", help="ours: the prompt table (column 'prompt')")
    parser.add_argument("--output", help="ours: the result table")
    parser.add_argument("--max-retries", type=int, default=0)
    parser.add_argument(
        "--go", type=Path, help="after the imports, say ready and wait for this file"
    )
    args = parser.parse_args()
    run = KINDS[args.kind]
    if args.kind != "ours":  # import outside the timed part, as the CLI's imports are
        import aiohttp  # noqa: F401
        import openai  # noqa: F401
    else:
        import knime_llm.cli  # noqa: F401
    if args.go is not None:
        _wait_for_go(args.go)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(args)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ok, failed = result if result is not None else _count_output(args.output)
    print(
        json.dumps(
            {
                "kind": args.kind,
                "rows": args.rows,
                "concurrency": args.concurrency,
                "wall_s": round(wall, 4),
                "cpu_s": round(cpu, 4),
                "ok": ok,
                "failed": failed,
            }
        )
    )


if __name__ == "__main__":
    main()
