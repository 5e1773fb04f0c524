"""Processes of the local test servers: the :class:`Server` handle, and the state files of a state
directory (``<name>.pid``, ``.url``, ``.owner``) that record a running server.

A recorded pid is only ever signalled after checking that it still is our server (see
:func:`_is_our_server`), so a recycled pid of an unrelated process is left alone. Standard
library only, like ``servers.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
LLAMA_ALIAS = "smollm2"
STOP_GRACE = 5.0


@dataclass
class Server:
    """A server process started by :mod:`server_launch` or found by :func:`load`.

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


def record_state(state_dir: Path, name: str, pid: int, base_url: str, owner: int | None) -> None:
    """Record a just started server in ``state_dir``, replacing what was recorded for ``name``.

    Args:
        state_dir: The state directory.
        name: ``"prism"`` or ``"llama"``.
        pid: Process id of the server.
        base_url: Its base URL.
        owner: Pid of the long-lived process that will stop it, or None.
    """
    # Owner before pid: a parallel session that sees the new pid must see its owner too.
    if owner is not None:
        _write(state_dir / f"{name}.owner", f"{owner}\n")
    else:
        (state_dir / f"{name}.owner").unlink(missing_ok=True)
    _write(state_dir / f"{name}.url", f"{base_url}\n")
    _write(state_dir / f"{name}.pid", f"{pid}\n")


def clear_stale(state_dir: Path, name: str, owner: int | None) -> None:
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
