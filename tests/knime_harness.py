"""Run KNIME nodes in tests the way KNIME does -- against the real ``knime.extension`` or the
double in ``tests/knime_double`` (whichever ``import knime.extension`` finds).

What KNIME's node runtime does around a node and this module reproduces: Java-side contexts
(recorded warnings/progress, credentials, cancellation, locked flow variables), specs passed
through JSON and port objects through bytes between nodes, ``validate_specs`` before
configure, the checks on configure/execute results (table outputs must be ``Table``/
``BatchOutputTable`` -- a DataFrame is a ``TypeError``; custom specs/objects must match the
port type and serialise), unique RowIDs, and discarding results of a cancelled execute.

Commands (run from the repository root):

* With the double (the default; conftest adds ``tests/knime_double`` to ``sys.path`` when
  ``import knime.extension`` fails)::

    make test                 # or: .venv/bin/python -m pytest tests/test_knime_double.py tests/nodes

* Against KNIME's real code, which is never committed: a knime/knime-python checkout, or a tag
  extracted with ``git archive``, e.g. into /tmp::

    git -C <knime-python repo> archive analytics-platform/5.5.0 | tar -x -C /tmp/kp-5.5
    make test-knime KNIME_PYTHON=/tmp/kp-5.5

  The target builds ``.knime-venv`` (ignored by git: pandas 2.3, pyarrow 21, markdown 3.8, py4j,
  pytz, python-dateutil and this package with its test extras), puts the checkout's
  ``org.knime.python3{,.nodes,.views,.arrow,.arrow.types}/src/main/python`` folders on
  ``PYTHONPATH`` and runs ``tests/test_knime_double.py`` and ``tests/nodes``.
  ``KNIME_LLM_REAL_KNIME=1`` makes a missing real package an error, so the run cannot fall back
  to the double unnoticed. With those folders KNIME's real Arrow table backend is installed
  (in-memory sink that applies the Java sink's batch rules) and port types go through the
  launcher's real ``_PortTypeRegistry``; with only the ``knime-extension`` conda package (no Arrow
  backend) ``knime.extension.testing``'s pandas-only backend is used and tests marked
  ``needs_arrow_backend`` are skipped (node tests need the Arrow backend).

``KNIME_VERSION`` tells which release is imported (the double follows 5.5); conformance tests
assert 5.5's behaviour where later releases differ, and the later one when run against them.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # knime.api.views complains outside KNIME
    import knime.extension as knext

import knime.api.table as _kt
import knime.extension.nodes as _kn
import knime.extension.parameter as kp

EXTENSION_ID = "test.extension"
IS_DOUBLE = Path(knext.__file__).resolve().parents[2].name == "knime_double"


def _knime_version() -> Optional[Tuple[int, int]]:
    """The KNIME release the imported ``knime.extension`` belongs to: 5.5 for the double (which
    follows 5.5), the ``Bundle-Version`` of a knime-python checkout, None when unknown (the
    ``knime-extension`` conda package ships no manifest)."""
    if IS_DOUBLE:
        return (5, 5)
    manifest = Path(knext.__file__).resolve().parents[5] / "META-INF" / "MANIFEST.MF"
    if manifest.is_file():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.startswith("Bundle-Version:"):
                major, minor = line.split(":", 1)[1].strip().split(".")[:2]
                return int(major), int(minor)
    return None


KNIME_VERSION = _knime_version()


class ExecutionCanceled(RuntimeError):
    """KNIME discarded the results because the execution was cancelled."""


class _MemorySink:
    """Stands in for the Java data sink the Arrow backend writes output batches to; like it, takes
    batches only of one schema, each but the last with the first one's row count."""

    def __init__(self) -> None:
        self.batches: List[Any] = []

    def write(self, batch: Any) -> None:
        if self.batches:
            first, last = self.batches[0], self.batches[-1]
            if not batch.schema.equals(first.schema):
                raise ValueError(f"batch schema {batch.schema} differs from the first {first.schema}")
            if last.num_rows < first.num_rows or batch.num_rows > first.num_rows:
                sizes = [b.num_rows for b in self.batches] + [batch.num_rows]
                raise ValueError(f"every batch but the last must have {first.num_rows} rows, got {sizes}")
        self.batches.append(batch)

    def close(self) -> None:
        pass


class _HarnessNodeBackend(_kn._KnimeNodeBackend):
    """Port type registration for the real package outside KNIME (its testing backend
    registers nothing and returns ``None``); uses the launcher's registry when available."""

    def __init__(self, extension_id: str) -> None:
        try:
            from _node_backend_launcher import _PortTypeRegistry

            self._registry = _PortTypeRegistry(extension_id, None)
        except ImportError:  # the conda package ships no launcher
            self._registry = None
            self._extension_id, self._types = extension_id, {}

    def register_port_type(self, name: str, object_class: type, spec_class: type,
                           id: Optional[str] = None) -> Any:
        if self._registry is not None:
            return self._registry.register_port_type(name, object_class, spec_class, id)
        id = id or f"{self._extension_id}.{object_class.__module__}.{object_class.__qualname__}"
        for key in (object_class, spec_class, id):
            if key in self._types:
                raise ValueError(f"There is already a port type for {key!r} registered.")
        port_type = knext.PortType(id, name, object_class, spec_class)
        self._types.update({object_class: port_type, spec_class: port_type, id: port_type})
        return port_type

    def get_port_type_for_spec_type(self, spec_type: type) -> Any:
        raise NotImplementedError

    def get_port_type_for_id(self, id: str) -> Any:
        raise NotImplementedError

    def has_port_type_for_id(self, id: str) -> bool:
        raise NotImplementedError


def _install_real_backends() -> str:
    """Give the real package the backends KNIME would install; return the table backend kind."""
    if _kt._backend is None:
        try:
            import knime._arrow._table as kat

            _kt._backend = kat._ArrowBackend(_MemorySink)
        except ImportError:
            pass
    # installs the pandas-only table backend and a node backend if none are set
    import knime.extension.testing  # noqa: F401

    if _kn._backend is None or type(_kn._backend).__name__ == "_TestingNodeBackend":
        _kn._backend = _HarnessNodeBackend(EXTENSION_ID)
    return "arrow" if type(_kt._backend).__name__ == "_ArrowBackend" else "testing"


TABLE_BACKEND = "double" if IS_DOUBLE else _install_real_backends()


class FlowVariables(collections.UserDict):
    """Flow variables as KNIME hands them to a node: names starting with ``knime`` cannot be
    set or changed, nothing can be deleted."""

    def __init__(self, initial: Optional[Dict[str, Any]] = None) -> None:
        self._locked = False
        super().__init__(initial or {})
        self._locked = True

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError("the flow variable name must be a string")
        if self._locked and key.startswith("knime"):
            raise ValueError(
                "setting or changing a flow variable that starts with 'knime' is not allowed")
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        raise RuntimeError("deleting flow variables is not allowed")


def check_flow_variables(flow_variables: Any) -> None:
    """Raise ``TypeError`` for values KNIME cannot turn into flow variables."""
    scalar = (bool, int, float, str)
    for key, value in dict(flow_variables).items():
        ok = isinstance(value, scalar) or (
            isinstance(value, list) and all(isinstance(v, scalar) for v in value))
        if not ok:
            raise TypeError(f"Flow variable '{key}' of type '{type(value)}' cannot be translated "
                            "to a valid KNIME flow variable.")


def _lookup_error(name: str) -> Exception:
    try:
        from py4j.protocol import Py4JJavaError  # what the real context catches

        java_exception = types.SimpleNamespace(_target_id="o0")  # py4j reads the Java object id
        return Py4JJavaError(f"No credentials named '{name}'", java_exception)
    except ImportError:
        return LookupError(f"No credentials named '{name}'")


class FakeJavaContext:
    """The Java-side context object KNIME's Python contexts call into; records what nodes send."""

    def __init__(self, credentials: Optional[Dict[str, Tuple[str, str]]] = None,
                 cancel_after: Optional[int] = None, input_specs: Sequence[Any] = ()) -> None:
        self.credentials = dict(credentials or {})
        self.cancel_after = cancel_after
        self.input_specs = list(input_specs)
        self.warnings: List[str] = []
        self.progress: List[Tuple[float, Optional[str]]] = []
        self.cancel_checks = 0
        self._workflow_dir: Optional[str] = None

    @property
    def workflow_dir(self) -> str:
        """A temporary workflow folder, created on first use."""
        if self._workflow_dir is None:
            self._workflow_dir = tempfile.mkdtemp(prefix="knime-workflow-")
        return self._workflow_dir

    def set_warning(self, message: str) -> None:
        self.warnings.append(message)

    def set_progress(self, progress: float, message: Optional[str] = None) -> None:
        self.progress.append((progress, message))

    def is_canceled(self) -> bool:
        self.cancel_checks += 1
        return self.cancel_after is not None and self.cancel_checks > self.cancel_after

    def get_credential_names(self) -> List[str]:
        return list(self.credentials)

    def get_credentials(self, identifier: str) -> List[str]:
        if identifier not in self.credentials:
            raise _lookup_error(identifier)
        username, password = self.credentials[identifier]
        return [username, password, identifier]

    def get_input_specs(self) -> List[Any]:
        return self.input_specs

    def get_input_port_map(self) -> Dict[str, List[int]]:
        return {}

    def get_output_port_map(self) -> Dict[str, List[int]]:
        return {}

    def get_node_id(self) -> str:
        return "0:1"

    def get_workflow_temp_dir(self) -> str:
        return self.workflow_dir

    def get_workflow_dir(self) -> str:
        return self.workflow_dir

    def get_knime_home_dir(self) -> str:
        return self.workflow_dir


class _Recording:
    @property
    def warnings(self) -> List[str]:
        """Messages passed to ``set_warning``, in order."""
        return self._java_ctx.warnings

    @property
    def progress(self) -> List[Tuple[float, Optional[str]]]:
        """``(progress, message)`` pairs passed to ``set_progress`` (after KNIME's checks)."""
        return self._java_ctx.progress


class RecordingConfigurationContext(_Recording, knext.ConfigurationContext):
    """A ``knext.ConfigurationContext`` over a ``FakeJavaContext``."""


class RecordingExecutionContext(_Recording, knext.ExecutionContext):
    """A ``knext.ExecutionContext`` over a ``FakeJavaContext``."""


def _ports(node: Any, slot: str) -> Optional[list]:
    return getattr(node, slot, None) if node is not None else None


def make_config_context(credentials: Optional[Dict[str, Tuple[str, str]]] = None,
                        flow_variables: Optional[Dict[str, Any]] = None,
                        node: Any = None) -> RecordingConfigurationContext:
    """Configuration context with credentials ``{name: (user, password)}`` and flow variables."""
    return RecordingConfigurationContext(
        FakeJavaContext(credentials), FlowVariables(flow_variables),
        _ports(node, "input_ports"), _ports(node, "output_ports"))


def make_exec_context(credentials: Optional[Dict[str, Tuple[str, str]]] = None,
                      cancel_after: Optional[int] = None,
                      flow_variables: Optional[Dict[str, Any]] = None,
                      node: Any = None) -> RecordingExecutionContext:
    """Execution context; ``is_canceled()`` turns True after ``cancel_after`` False answers."""
    return RecordingExecutionContext(FakeJavaContext(credentials, cancel_after),
                                     FlowVariables(flow_variables),
                                     _ports(node, "input_ports"), _ports(node, "output_ports"))


def make_dialog_context(specs: Sequence[Any] = (),
                        credentials: Optional[Dict[str, Tuple[str, str]]] = None,
                        flow_variables: Optional[Dict[str, Any]] = None) -> Any:
    """``knext.DialogCreationContext`` as passed to ``choices`` callables."""
    return knext.DialogCreationContext(FakeJavaContext(credentials, input_specs=specs),
                                       FlowVariables(flow_variables),
                                       lambda java_specs, port_map: list(java_specs))


def set_extension_version(version: str) -> None:
    """What KNIME does with knime.yml's ``version`` (needed by callable defaults)."""
    kp.set_extension_version(version)


def roundtrip_spec(spec: Any) -> Any:
    """serialize -> JSON text -> deserialize, as a spec travels between KNIME nodes."""
    data = json.loads(json.dumps(spec.serialize()))
    try:
        return type(spec).deserialize(data, None)
    except TypeError:  # KNIME retries without the java_callback argument
        return type(spec).deserialize(data)


def roundtrip_port_object(obj: Any) -> Any:
    """serialize -> bytes -> deserialize (with a round-tripped spec), as KNIME stores it."""
    data = obj.serialize()
    if not isinstance(data, bytes):
        raise TypeError(f"{type(obj).__name__}.serialize() must return bytes, got {type(data)}")
    return type(obj).deserialize(roundtrip_spec(obj.spec), data)


def settings_roundtrip(node: Any, version: Optional[str] = None) -> dict:
    """extract -> JSON -> validate -> inject into a fresh node -> extract again; returns settings.

    Raises:
        AssertionError: the fresh node's settings differ.
    """
    settings = json.loads(json.dumps(kp.extract_parameters(node)))
    fresh = node() if isinstance(node, types.FunctionType) else type(node)()
    kp.validate_parameters(fresh, settings, version)
    kp.inject_parameters(fresh, settings, version)
    again = kp.extract_parameters(fresh)
    assert again == settings, f"settings changed in round trip: {settings} -> {again}"
    return settings


VALUE_FACTORY = "org.knime.core.data.v2.value."
TIME_FACTORY = "org.knime.core.data.v2.time."
JSON_FACTORY = "org.knime.core.data.json.JSONValueFactory"


@dataclasses.dataclass(frozen=True)
class Cells:
    """A column of a KNIME type as KNIME's Java side sends it: the value factory's storage, and the
    factory's class name (``inner``: the factory of a list's elements, for a list of such cells)."""

    storage: Any
    factory: str
    inner: Optional[str] = None


def _logical_field(name: str, storage_type: Any, factory: Optional[str]) -> Any:
    import pyarrow as pa

    if factory is None:
        return pa.field(name, storage_type)
    logical = json.dumps({"value_factory_class": factory}, separators=(",", ":"))
    return pa.field(name, storage_type, metadata={b"ARROW:extension:name": b"knime.logical_type",
                                                  b"ARROW:extension:metadata": logical.encode()})


def knime_table(row_ids: Sequence[str], **columns: Any) -> Any:
    """An Arrow table holding KNIME-typed columns the way KNIME delivers them to a node.

    Plain arrays stay plain (KNIME's ``to_pyarrow`` unwraps numbers, strings, booleans and their
    lists); :class:`Cells` become the extension type ``knime.logical_type`` naming their value
    factory. The data goes through Arrow IPC, as it does between KNIME's JVM and Python, so the
    extension class registered by the backend in use (KNIME's, or the double's) reads it back.
    """
    import pyarrow as pa

    fields, arrays = [_logical_field("<RowID>", pa.string(), None)], [pa.array(list(row_ids), pa.string())]
    for name, column in columns.items():
        if not isinstance(column, Cells):
            column = Cells(column, "")
        storage_type = column.storage.type
        if column.inner is not None:
            storage_type = pa.list_(_logical_field("item", storage_type.value_type, column.inner))
            column = Cells(column.storage.cast(storage_type), column.factory)
        fields.append(_logical_field(name, storage_type, column.factory or None))
        arrays.append(column.storage)
    schema = pa.schema(fields)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return pa.ipc.open_stream(sink.getvalue()).read_all()


def make_input_table(data: Any, batch_size: Optional[int] = None) -> Any:
    """A table as KNIME passes it to ``execute`` (``batches()`` works), from a DataFrame,
    pyarrow table or ``knext.Table``."""
    if IS_DOUBLE:
        return _kt._input_table(data, batch_size)
    import pandas as pd

    table = knext.Table.from_pandas(data) if isinstance(data, pd.DataFrame) else data
    if TABLE_BACKEND != "arrow":
        return table
    if not isinstance(table, knext.Table):
        table = knext.Table.from_pyarrow(table)
    import knime._arrow._table as kat

    return kat.ArrowSourceTable(_ArrowSource(table._get_table(), batch_size))


class _ArrowSource:
    """In-memory stand-in for the Java data source behind KNIME's input tables."""

    def __init__(self, table: Any, batch_size: Optional[int]) -> None:
        self.schema = table.schema
        self.num_rows = table.num_rows
        self._table = table
        self._size = batch_size or max(1, table.num_rows)

    def __len__(self) -> int:
        return max(1, -(-self.num_rows // self._size))

    def __getitem__(self, index: int) -> Any:
        import pyarrow as pa

        part = self._table.slice(index * self._size, self._size).combine_chunks()
        return part.to_batches()[0] if part.num_rows else pa.RecordBatch.from_pylist([], schema=part.schema)

    def to_arrow_table(self, num_rows: Optional[int] = None) -> Any:
        return self._table


def as_table(output: Any) -> Any:
    """A ``knext.Table`` for an execute output (``BatchOutputTable`` batches combined)."""
    if isinstance(output, knext.Table):
        return output
    if IS_DOUBLE:
        return output._combined()
    if TABLE_BACKEND == "arrow":
        import knime._arrow._table as kat
        import pyarrow as pa

        parts = [pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b
                 for b in output._sink.batches]
        return kat.ArrowTable(pa.concat_tables(parts))
    return knext.Table.from_pandas(output.to_pandas())


def row_ids(table: Any) -> List[str]:
    """RowIDs of a table, in order."""
    try:
        return table.to_pyarrow().column(0).to_pylist()
    except RuntimeError:  # knime.extension.testing's tables have no Arrow form
        return [str(i) for i in table.to_pandas().index]


def _check_inputs(node: Any, values: Sequence[Any], kind: str) -> None:
    ports = node.input_ports
    if len(values) != len(ports):
        raise TypeError(
            f"{type(node).__name__} has {len(ports)} input ports, got {len(values)} {kind}")
    for port, value in zip(ports, values):
        if value is None and not port.optional:
            raise ValueError(f"Input port '{port.name}' is not optional; KNIME would not "
                             "run the node without a connection")


def run_configure(node: Any, *specs: Any, ctx: Any = None, roundtrip: bool = True) -> List[Any]:
    """Call ``node.configure`` like KNIME and return one checked spec per output port
    (``None`` entries where the node cannot configure yet); ``None`` input = unconnected."""
    _check_inputs(node, specs, "specs")
    ctx = ctx if ctx is not None else make_config_context(node=node)
    _attach_ports(ctx, node)
    inputs = []
    for port, spec in zip(node.input_ports, specs):
        if spec is not None and port.type != knext.PortType.TABLE:
            assert isinstance(spec, port.type.spec_class), (
                f"Input spec for '{port.name}' must be a {port.type.spec_class.__name__}")
        inputs.append(roundtrip_spec(spec) if roundtrip and spec is not None else spec)
    kp.validate_specs(node, inputs)
    outputs = _per_port(node, node.configure(ctx, *inputs), allow_none=True)
    check_flow_variables(ctx.flow_variables)
    return [_checked_spec(port, spec) for port, spec in zip(node.output_ports, outputs)]


def run_execute(node: Any, ctx: Any, *inputs: Any, roundtrip: bool = True) -> List[Any]:
    """Call ``node.execute`` like KNIME and return the checked outputs (``BatchOutputTable``
    outputs combined into a ``Table``). DataFrames given for table inputs become input tables.

    Raises:
        TypeError: a table output is not a ``Table``/``BatchOutputTable`` (e.g. a DataFrame) or
            a port object does not serialise to bytes.
        AssertionError: a custom output does not match its port type.
        ValueError: wrong number of outputs or duplicate RowIDs.
        ExecutionCanceled: ``ctx.is_canceled()`` was True when execute returned.
    """
    import pandas as pd

    _check_inputs(node, inputs, "inputs")
    _attach_ports(ctx, node)
    prepared = []
    for port, value in zip(node.input_ports, inputs):
        if value is None:
            prepared.append(None)
        elif port.type == knext.PortType.TABLE:
            if not isinstance(value, (pd.DataFrame, knext.Table)):
                raise TypeError(f"Input '{port.name}' must be a DataFrame or knext.Table")
            prepared.append(make_input_table(value))
        else:
            assert isinstance(value, port.type.object_class), (
                f"Input for '{port.name}' must be a {port.type.object_class.__name__}")
            prepared.append(roundtrip_port_object(value) if roundtrip else value)
    outputs = node.execute(ctx, *prepared)
    if ctx.is_canceled():
        raise ExecutionCanceled("Canceled")
    check_flow_variables(ctx.flow_variables)
    results = []
    for index, (port, obj) in enumerate(zip(node.output_ports, _per_port(node, outputs))):
        results.append(_checked_object(port, obj, index))
    return results


def _attach_ports(ctx: Any, node: Any) -> None:
    if getattr(ctx, "_input_ports", None) is None:
        ctx._input_ports, ctx._output_ports = node.input_ports, node.output_ports


def _per_port(node: Any, outputs: Any, allow_none: bool = False) -> List[Any]:
    count = len(node.output_ports)
    if outputs is None and allow_none:
        return [None] * count
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    if len(outputs) != count:
        raise ValueError(f"The node has {count} output ports but returned {len(outputs)} values")
    return list(outputs)


def _checked_spec(port: Any, spec: Any) -> Any:
    if spec is None:
        return None
    if port.type == knext.PortType.TABLE:
        if isinstance(spec, knext.Column):
            spec = knext.Schema.from_columns(spec)
        assert isinstance(spec, knext.Schema), (
            f"Output spec of table port '{port.name}' must be a knext.Schema, got {type(spec)}")
    else:
        assert isinstance(spec, port.type.spec_class), (
            f"Expected output spec of type {port.type.spec_class} but got {type(spec)}")
    json.dumps(spec.serialize())  # KNIME sends it as JSON (duplicate columns fail here)
    return spec


def _checked_object(port: Any, obj: Any, index: int) -> Any:
    if port.type == knext.PortType.TABLE:
        if not isinstance(obj, (knext.Table, knext.BatchOutputTable)):
            raise TypeError(f"Object for port {port} should be of type Table or "
                            f"BatchOutputTable, but got {type(obj)}")
        table = as_table(obj)
        ids = row_ids(table)
        if len(ids) != len(set(ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"Output table {index} has duplicate RowIDs {dupes}")
        return table
    assert isinstance(obj, port.type.object_class), (
        f"Expected output object of type {port.type.object_class}, got {type(obj)}")
    _checked_spec(port, obj.spec)
    if not isinstance(obj.serialize(), bytes):
        raise TypeError(f"{type(obj).__name__}.serialize() must return bytes")
    return obj


def describe(node: Any, parser: Any) -> Dict[str, Any]:
    """A node's description as KNIME renders it at start-up: the docstring's first line as is, the
    rest as the full description, options (or tabs) and ports through ``parser`` (a
    ``KnimeMarkdownParser``)."""
    doc = type(node).__doc__ or ""
    short, _, full = doc.removeprefix("\n").partition("\n")
    entries, tabs_used = kp.extract_parameter_descriptions(node)
    return {
        "short_description": short,
        "full_description": parser.parse_full_description(full) if full else "Missing description.",
        "options": [] if tabs_used else parser.parse_options(entries),
        "tabs": parser.parse_tabs(entries) if tabs_used else [],
        "ports": [parser.parse_port_description(port.description)
                  for port in node.input_ports + node.output_ports],
    }
