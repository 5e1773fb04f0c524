"""Test double of ``knime.extension.version``: the ``Version`` triple used by ``since_version``."""

from __future__ import annotations

from typing import NamedTuple, Optional, Union


class Version(NamedTuple):
    """A ``major.minor.patch`` version that compares like a tuple and prints as ``1.2.3``."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    __repr__ = __str__

    @classmethod
    def parse_version(cls, version: Optional[Union[str, "Version"]]) -> "Version":
        """Parse ``"1.2.3"``; ``None`` means ``0.0.0`` and a ``Version`` is returned unchanged.

        Raises:
            ValueError: if the text is not three non-negative integers separated by dots.
        """
        if version is None:
            return cls(0, 0, 0)
        if isinstance(version, Version):
            return version
        try:
            parts = [int(p) for p in str(version).split(".")]
        except ValueError:
            parts = []
        if len(parts) != 3 or any(p < 0 for p in parts):
            raise ValueError(
                f"Version {version!r} is not of the form 'major.minor.patch' "
                "with non-negative integers."
            )
        return cls(*parts)
