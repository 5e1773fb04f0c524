#!/usr/bin/env python3
"""Start and stop the local OpenAI-compatible servers used by tests, the demo and benchmarks.

``prism`` is the Prism mock that validates requests against an OpenAPI spec (``make prism``),
``llama`` is llama-cpp-python's server with SmolLM2-135M (``make llama``). Both bind to
127.0.0.1 on a free port and leave ``<name>.pid``, ``.url`` (base URL ending in ``/v1``),
``.log`` and, if a long-lived process owns them, ``.owner`` in a state directory.
Standard library only, so that the Makefile can run it with any ``python3``::

    python3 tools/servers.py start prism|llama --state-dir .servers   # prints the base URL
    python3 tools/servers.py stop prism|llama --state-dir .servers
    python3 tools/servers.py run llama --state-dir .servers -- COMMAND [ARGS...]

``run`` starts the server, runs COMMAND with ``KNIME_LLM_BASE_URL`` and ``OPENAI_BASE_URL``
set to its base URL, stops the server whatever happens, and exits with COMMAND's status.

This is the command line; :mod:`server_launch` starts the servers and :mod:`server_procs`
stops them and keeps their state files. Both are imported by plain name, which works because
Python puts a script's own folder first on ``sys.path``; ``tests/integration/conftest.py``
puts ``tools/`` there too.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from server_launch import DEFAULT_SPEC, DUMMY_API_KEY, ROOT, ServerError, start
from server_procs import load


def _run(args: argparse.Namespace, command: list[str]) -> int:
    if not command:
        print("servers.py run: give a command after `--`", file=sys.stderr)
        return 2
    # SIGTERM (e.g. from a CI timeout) must still reach the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = start(args.name, state_dir=args.state_dir, owner=os.getpid(), spec_path=args.spec)
    try:
        env = dict(os.environ, KNIME_LLM_BASE_URL=server.base_url,
                   OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=DUMMY_API_KEY)
        print(f"servers.py: {args.name} at {server.base_url}", file=sys.stderr)
        return subprocess.call(command, env=env)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # Split off the command of `run` ourselves: argparse's REMAINDER mixes it with options.
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    helps = {"start": "start a server and print its base URL",
             "stop": "stop the server recorded in the state directory",
             "run": "start a server, run the command after `--`, stop the server"}
    for action, text in helps.items():
        p = sub.add_parser(action, help=text)
        p.add_argument("name", choices=("prism", "llama"))
        p.add_argument("--state-dir", default=str(ROOT / ".servers"))
        if action != "stop":
            p.add_argument("--spec", default=str(DEFAULT_SPEC), help="OpenAPI file for Prism")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            print(start(args.name, state_dir=args.state_dir, spec_path=args.spec).base_url)
            return 0
        if args.action == "stop":
            server = load(args.name, args.state_dir)
            if server is None:
                print(f"servers.py: no {args.name} server running in {args.state_dir}",
                      file=sys.stderr)
                for suffix in ("pid", "url", "owner"):
                    (Path(args.state_dir) / f"{args.name}.{suffix}").unlink(missing_ok=True)
            else:
                server.stop()
            return 0
        return _run(args, command)
    except ServerError as err:
        print(f"servers.py: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130  # servers were stopped on the way out; no traceback for Ctrl-C


if __name__ == "__main__":
    sys.exit(main())
