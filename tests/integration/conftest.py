"""Fixtures that provide real local servers (Prism mock, llama.cpp) to integration tests.

Each server is started on first use, shared by the whole test session and stopped when the
session ends, also after failures or Ctrl-C. If a server's software is missing the fixture
fails (``make test`` installs it); set ``KNIME_LLM_SKIP_SERVERS=1`` to skip these tests on
purpose for a quick local run.
"""

from __future__ import annotations

import importlib.util
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


def _load_servers() -> ModuleType:
    # tools/ is not a package (the Makefile runs servers.py as a script), so load it by path.
    spec = importlib.util.spec_from_file_location("knime_llm_tools_servers",
                                                  ROOT / "tools" / "servers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up here
    spec.loader.exec_module(module)
    return module


servers = _load_servers()


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
    except servers.ServerUnavailable as err:
        problem = f"{err} (`make test` installs it; set {SKIP_ENV}=1 to skip these tests)"
    except servers.ServerError as err:
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
    yield from _serve(lambda: servers.start_prism(SPEC, state_dir=STATE_DIR, owner=os.getpid()),
                      "prism")


@pytest.fixture(scope="session")
def llama_url() -> Iterator[str]:
    """Base URL (ending in ``/v1``) of llama-cpp-python serving SmolLM2-135M as ``smollm2``."""
    yield from _serve(lambda: servers.start_llama(state_dir=STATE_DIR, owner=os.getpid()),
                      "llama")
