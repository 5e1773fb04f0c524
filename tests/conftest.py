"""Test set-up shared by the whole suite.

KNIME's ``knime.extension`` is used when it is importable (a knime-python checkout on the path,
see ``make test-knime``); otherwise the test double in ``tests/knime_double`` stands in for it.
``KNIME_LLM_REAL_KNIME=1`` makes a missing real package an error instead, so a run meant to test
against KNIME's code cannot fall back to the double unnoticed. The harness is imported before any
node module, because against the real package it installs the table and node backends that
``knext.port_type`` and ``Table.from_pandas`` need.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

try:
    import knime.extension  # noqa: F401
except ImportError:
    if os.environ.get("KNIME_LLM_REAL_KNIME") == "1":
        raise
    sys.path.insert(0, str(Path(__file__).parent / "knime_double"))
    for name in [m for m in sys.modules if m == "knime" or m.startswith("knime.")]:
        del sys.modules[name]  # a failed import can leave an empty namespace package behind

from tests import knime_harness

_KNIME_YML = (Path(__file__).parents[1] / "knime.yml").read_text(encoding="utf-8")
EXTENSION_VERSION = re.search(r"^version:\s*(\S+)", _KNIME_YML, re.MULTILINE).group(1)


@pytest.fixture(autouse=True)
def extension_version() -> None:
    """What KNIME does when it loads the extension: knime.yml's version is the one callable
    defaults and ``since_version`` are measured against (some tests change it)."""
    knime_harness.set_extension_version(EXTENSION_VERSION)
