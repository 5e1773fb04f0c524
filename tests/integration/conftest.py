"""Fixtures that provide real local servers (Prism mock, llama.cpp) to integration tests.

Each server is started on first use, shared by the whole test session and stopped when the
session ends, also after failures or Ctrl-C. If a server's software is missing the fixture
fails (``make test`` installs it); set ``KNIME_LLM_SKIP_SERVERS=1`` to skip these tests on
purpose for a quick local run.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "data" / "prism" / "openapi.v1.json"
# Separate from `.servers` (used by `make demo`), so that a test session only ever treats
# servers of other test sessions as stale.
STATE_DIR = ROOT / ".servers" / "pytest"
SKIP_ENV = "KNIME_LLM_SKIP_SERVERS"
SKIP_REASON = f"{SKIP_ENV}=1: integration tests with real servers skipped on request"


def _load_server_launch() -> ModuleType:
    # tools/ is not a package (the Makefile runs servers.py as a script): its modules import each
    # other by plain name, as from a script's own folder, so that folder goes on sys.path. At the
    # end, so that it shadows nothing.
    tools = str(ROOT / "tools")
    if tools not in sys.path:
        sys.path.append(tools)
    return importlib.import_module("server_launch")


server_launch = _load_server_launch()


def _skip_requested() -> bool:
    return os.environ.get(SKIP_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``prism`` / ``llama`` when KNIME_LLM_SKIP_SERVERS is set."""
    if not _skip_requested():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("prism") or item.get_closest_marker("llama"):
            item.add_marker(skip)


def _serve(start, make_target: str) -> Iterator[str]:
    if _skip_requested():
        pytest.skip(SKIP_REASON)
    problem = None
    try:
        server = start()
    except server_launch.ServerUnavailable as err:
        problem = f"{err} (`make test` installs it; set {SKIP_ENV}=1 to skip these tests)"
    except server_launch.ServerError as err:
        problem = f"{err}\n(if the installation is broken: `make {make_target}`)"
    if problem is not None:
        # Outside the `except`: a plain message, without an exception chain around it.
        pytest.fail(problem, pytrace=False)
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prism_url() -> Iterator[str]:
    """Base URL (ending in ``/v1``) of a Prism mock serving the 2026 OpenAI spec.

    Send any ``Authorization: Bearer ...`` header: Prism answers 401 without one.
    """
    yield from _serve(
        lambda: server_launch.start_prism(SPEC, state_dir=STATE_DIR, owner=os.getpid()), "prism")


@pytest.fixture(scope="session")
def llama_url() -> Iterator[str]:
    """Base URL (ending in ``/v1``) of llama-cpp-python serving SmolLM2-135M as ``smollm2``."""
    yield from _serve(lambda: server_launch.start_llama(state_dir=STATE_DIR, owner=os.getpid()),
                      "llama")
