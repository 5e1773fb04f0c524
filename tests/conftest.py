"""Test set-up shared by the whole suite.

KNIME's ``knime.extension`` is used when it is importable (a KNIME pixi environment); otherwise
the test double in ``tests/knime_double`` stands in for it. The harness is imported before any
node module, because against the real package it installs the table and node backends that
``knext.port_type`` and ``Table.from_pandas`` need.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import knime.extension  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).parent / "knime_double"))
    for name in [m for m in sys.modules if m == "knime" or m.startswith("knime.")]:
        del sys.modules[name]  # a failed import can leave an empty namespace package behind

from tests import knime_harness  # noqa: F401
