"""Test double of ``knime.extension.testing``: KNIME's own no-op testing contexts.

``tests/knime_harness.py`` offers richer contexts (recorded warnings/progress, credentials);
these two exist so code written against the official testing module also runs on the double.
"""

from typing import Any, Dict, List

from knime.extension import nodes as _kn

_NOT_AVAILABLE = "Not implemented for testing"


class _TestingBaseContext:
    def __init__(self) -> None:
        self._flow_variables: Dict[str, Any] = {}

    @property
    def flow_variables(self) -> Dict[str, Any]:
        """An editable, initially empty flow-variable dict."""
        return self._flow_variables

    def get_credential_names(self) -> List[str]:
        """Not available in KNIME's testing module either."""
        raise RuntimeError(_NOT_AVAILABLE)

    def get_credentials(self, identifier: str) -> Any:
        """Not available in KNIME's testing module either."""
        raise RuntimeError(_NOT_AVAILABLE)

    def set_warning(self, message: str) -> None:
        """Ignored."""


class TestingConfigurationContext(_TestingBaseContext, _kn.ConfigurationContext):
    """No-op configuration context (``TestingConfigurationContext()``)."""


class TestingExecutionContext(_TestingBaseContext, _kn.ExecutionContext):
    """No-op execution context: progress ignored, never cancelled."""

    def set_progress(self, progress: float, message: str = None) -> None:
        """Ignored (no range check, as in KNIME's testing module)."""

    def is_canceled(self) -> bool:
        """Always False."""
        return False

    def get_workflow_temp_dir(self) -> str:
        """Not available."""
        raise RuntimeError(_NOT_AVAILABLE)

    def get_workflow_data_area_dir(self) -> str:
        """Not available."""
        raise RuntimeError(_NOT_AVAILABLE)

    def get_knime_home_dir(self) -> str:
        """Not available."""
        raise RuntimeError(_NOT_AVAILABLE)
