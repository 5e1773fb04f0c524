"""Check request bodies against the OpenAI JSON Schema, fast when valid and clear when not.

A run checks every row's body, and the budget for everything a row costs is 0.3 ms of CPU, so
valid bodies go through ``jsonschema_rs`` (about a microsecond for a chat body; Python
``jsonschema`` needs hundreds). Invalid bodies are rare: only for them is Python ``jsonschema``
compiled (lazily, once) to walk its error tree into one readable line, see
:mod:`knime_llm.validation.messages`. Without ``jsonschema_rs`` installed, the Python validator does all
the work, slower but with the same verdicts.
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from typing import Any, Literal

from referencing.exceptions import Unresolvable  # jsonschema's own dependency

from ..errors import ConfigError, SchemaError
from ..settings import Endpoint
from .documents import load_document, schema_from_document
from .messages import describe

try:
    import jsonschema_rs as _rs
except ImportError:  # KNIME's bundled Python environment may not have it
    _rs = None

Backend = Literal["auto", "rs", "python"]


@functools.cache
def shipped_schema(endpoint: Endpoint) -> dict[str, Any]:
    """The request schema shipped in ``knime_llm/validation/openai`` for ``endpoint``, read once per process.

    The returned dict is shared between callers: treat it as read-only.

    Raises:
        SchemaError: the packaged file is missing or damaged (a broken installation).
    """
    name = f"{endpoint.schema_name}.schema.json"
    try:
        text = resources.files("knime_llm.validation").joinpath("openai", name).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise SchemaError(
            f"the shipped schema {name} cannot be read ({exc}); reinstall knime-llm"
        ) from None


class BodyValidator:
    """Checks request bodies against one JSON Schema: build it once per run, check each row.

    Args:
        schema: A JSON Schema (draft 2020-12 unless its ``$schema`` says otherwise).
        backend: ``"rs"`` for ``jsonschema_rs``, ``"python"`` for Python ``jsonschema``, ``"auto"``
            for ``jsonschema_rs`` when it is installed and Python ``jsonschema`` otherwise.

    Raises:
        SchemaError: ``schema`` is not a valid JSON Schema or has unresolvable references.
        ConfigError: ``backend`` is unknown, or ``"rs"`` while ``jsonschema_rs`` is not installed.
    """

    def __init__(self, schema: dict[str, Any], *, backend: Backend = "auto") -> None:
        if backend not in ("auto", "rs", "python"):
            raise ConfigError(
                f"validation backend must be 'auto', 'rs' or 'python', not {backend!r}"
            )
        if backend == "rs" and _rs is None:
            raise ConfigError(
                "the 'rs' validation backend needs jsonschema-rs: pip install jsonschema-rs"
            )
        self.schema = schema
        self._python_validator: Any = None
        self._rs_validator: Any = None
        if backend != "python" and _rs is not None:
            self._rs_validator = _build_rs(schema)
        else:
            self._python()  # compile now, so a broken schema fails the run's setup, not a row
        #: The backend in use for valid bodies: ``"rs"`` or ``"python"``.
        self.backend: Literal["rs", "python"] = "python" if self._rs_validator is None else "rs"

    @classmethod
    def for_endpoint(
        cls,
        endpoint: Endpoint,
        schema_file: str | os.PathLike[str] | None = None,
        *,
        backend: Backend = "auto",
    ) -> BodyValidator:
        """Build the validator for an endpoint's request bodies.

        Args:
            endpoint: Chat or completion; picks the schema (``Endpoint.schema_name``).
            schema_file: A JSON Schema, or an OpenAPI spec to extract the endpoint's request schema
                from (.json, .yaml or .yml); None for the schema shipped with knime-llm.
            backend: See :class:`BodyValidator`.

        Raises:
            SchemaError: the file cannot be read, is no valid schema, or lacks the request schema.
        """
        if schema_file is None:
            return cls(shipped_schema(endpoint), backend=backend)
        doc = load_document(schema_file)
        try:
            schema = schema_from_document(doc, endpoint.schema_name)
        except SchemaError as exc:
            raise SchemaError(f"{os.fspath(schema_file)}: {exc}") from None
        return cls(schema, backend=backend)

    def check(self, body: Any) -> str | None:
        """Check one request body.

        Args:
            body: The parsed JSON body (dicts, lists, str, int, float, bool, None).

        Returns:
            None when the body is valid; otherwise one line saying where and what, e.g.
            ``temperature: 3 is greater than the maximum of 2``.

        Raises:
            SchemaError: the schema refers to something that cannot be resolved (found only when
                a body reaches that reference).
        """
        rs = self._rs_validator
        if rs is not None:
            try:
                if rs.is_valid(body):
                    return None
            except (ValueError, TypeError, OverflowError):
                pass  # a value jsonschema_rs cannot take (say, an int beyond 64 bits): ask Python
        # Python jsonschema has the last word on bodies jsonschema_rs rejects, so both backends
        # give the same verdict even where the two libraries' corner cases differ.
        validator = self._python()
        try:
            return describe(validator.iter_errors(body))
        except Unresolvable as exc:
            raise SchemaError(
                f"the schema has a reference that cannot be resolved: {exc}"
            ) from None

    def _python(self) -> Any:
        """The Python jsonschema validator, compiled on first use."""
        if self._python_validator is None:
            from jsonschema import Draft202012Validator, exceptions, validators

            cls = validators.validator_for(self.schema, default=Draft202012Validator)
            # jsonschema_rs, when built, has checked the schema against its metaschema already
            if self._rs_validator is None:
                try:
                    cls.check_schema(self.schema)
                except exceptions.SchemaError as exc:
                    where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
                    raise SchemaError(
                        f"not a valid JSON Schema: at {where}: {exc.message}"
                    ) from None
            self._python_validator = cls(self.schema)
        return self._python_validator


def _build_rs(schema: dict[str, Any]) -> Any:
    # validate_formats=False: formats are annotations in 2020-12 and the spec uses made-up ones
    # ("unixtime"); offline: a schema file must not make knime-llm fetch URLs.
    assert _rs is not None
    try:
        try:
            return _rs.validator_for(schema, validate_formats=False, offline=True)
        except TypeError:  # jsonschema-rs before "offline" existed
            return _rs.validator_for(schema, validate_formats=False)
    except ValueError as exc:  # jsonschema_rs.ValidationError: the schema breaks its metaschema
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SchemaError(f"not a valid JSON Schema: {reason}") from None
