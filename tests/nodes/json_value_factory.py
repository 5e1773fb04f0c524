"""A stand-in for knime-json's Python value factory of JSON cells, registered by a test run against
KNIME's own code (the real one ships with KNIME, not with knime-python): a cell's bytes are 8
length bytes and the JSON text, in the table or in a file store."""

from __future__ import annotations

import json
from typing import Any

import knime.api.types as kt


class JsonValueFactory(kt.TableOrFileStorePythonValueFactory):
    """Reads JSON cells; writing is not needed by the tests."""

    def __init__(self) -> None:
        super().__init__(dict)

    def deserialize(self, input: Any) -> Any:
        input.read(8)
        return json.load(input)

    def serialize(self, value: Any, output: Any) -> None:
        raise NotImplementedError("the tests only read JSON cells")
