"""Test double of ``knime.extension.nodes``: node/port declaration, port types, contexts.

Mirrors KNIME's observable behaviour (see /work/shared/notes/knime-api.md §2.1-2.4):
``@node`` returns a factory (not the class) after instantiating the class with no arguments
three times; port decorators record ports in source order; contexts talk to a "Java" context
object (in tests: a fake supplied by ``tests/knime_harness.py``) exactly like the real ones.
Port groups, views, binary/image ports and connection port objects are not modelled.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Dict, List, Optional

from knime.api import schema as ks
from knime.api.schema import PortObjectSpec
from knime.extension._parameter_base import _BaseParameter, _is_group


class PortObject(ABC):
    """Base of custom port objects: hold a spec, (de)serialise to ``bytes``."""

    def __init__(self, spec: PortObjectSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> PortObjectSpec:
        """The spec this object belongs to."""
        return self._spec

    @abstractmethod
    def serialize(self) -> bytes:
        """Return the object's content as bytes (KNIME stores them between nodes)."""

    @classmethod
    @abstractmethod
    def deserialize(cls, spec: PortObjectSpec, storage: bytes) -> "PortObject":
        """Rebuild the object from its spec and the bytes of ``serialize``."""


@dataclass
class PortType:
    """A registered custom port type (built-in kinds are the string constants below)."""

    id: str
    name: str
    object_class: type
    spec_class: type

    def is_super_type_of(self, port_type: "PortType") -> bool:
        """True if ``port_type``'s spec and object classes are subclasses of this type's."""
        return (issubclass(port_type.spec_class, self.spec_class)
                and issubclass(port_type.object_class, self.object_class))


PortType.BINARY = "PortType.BINARY"
PortType.CONNECTION = "PortType.CONNECTION"
PortType.TABLE = "PortType.TABLE"
PortType.IMAGE = "PortType.IMAGE"
PortType.CREDENTIAL = "PortType.CREDENTIAL"
PortType.WORKFLOW = "PortType.WORKFLOW"
PortType.HUB_AUTHENTICATION = "PortType.HUB_AUTHENTICATION"


class _KnimeNodeBackend(ABC):
    """What ``port_type`` delegates to (KNIME's node runtime, or the double's registry)."""

    @abstractmethod
    def register_port_type(self, name: str, object_class: type, spec_class: type,
                           id: Optional[str] = None) -> PortType: ...


class _PortTypeRegistry(_KnimeNodeBackend):
    """In-process registry with KNIME's rules: unique object class, spec class and id;
    default id ``<extension id>.<module>.<ObjectClass qualname>``."""

    def __init__(self, extension_id: str) -> None:
        self.extension_id = extension_id
        self._by_key: Dict[Any, PortType] = {}

    def register_port_type(self, name: str, object_class: type, spec_class: type,
                           id: Optional[str] = None) -> PortType:
        if id is None:
            id = f"{self.extension_id}.{object_class.__module__}.{object_class.__qualname__}"
        for key, what in ((("obj", object_class), "object class"),
                          (("spec", spec_class), "spec class"), (("id", id), "id")):
            if key in self._by_key:
                raise ValueError(f"There is already a port type with the provided {what} "
                                 f"'{key[1]}' registered.")
        port_type = PortType(id, name, object_class, spec_class)
        for key in (("obj", object_class), ("spec", spec_class), ("id", id)):
            self._by_key[key] = port_type
        return port_type


_backend: _KnimeNodeBackend = _PortTypeRegistry("test.extension")


def port_type(name: str, object_class: type, spec_class: type,
              id: Optional[str] = None) -> PortType:
    """Register a custom port type for ``object_class``/``spec_class`` and return it.

    Raises:
        ValueError: the object class, spec class or id is already registered.
    """
    return _backend.register_port_type(name, object_class, spec_class, id)


@dataclass
class Port:
    """A declared input or output port."""

    type: Any
    name: str
    description: str
    id: Optional[str] = None
    optional: Optional[bool] = False

    def __post_init__(self) -> None:
        if self.type in (PortType.BINARY, PortType.CONNECTION) and self.id is None:
            raise TypeError(
                f"{type(self)}s of type BINARY or CONNECTION must have a unique 'id' set")


@dataclass(frozen=True)
class Credential:
    """Credentials of a credential flow variable."""

    username: str
    password: str
    credential_name: str


class _BaseContext:
    def __init__(self, java_ctx: Any, flow_variables: Dict[str, Any]) -> None:
        self._java_ctx = java_ctx
        self._flow_variables = flow_variables

    @property
    def flow_variables(self) -> Dict[str, Any]:
        """Flow variables (bool/int/float/str or lists of those); editable."""
        return self._flow_variables

    def get_credential_names(self) -> List[str]:
        """Names of the credential flow variables."""
        return list(self._java_ctx.get_credential_names())

    def get_credentials(self, identifier: str) -> Credential:
        """Credentials named ``identifier``.

        Raises:
            KeyError: no such credentials (any failure of the Java-side lookup).
        """
        try:
            values = list(self._java_ctx.get_credentials(identifier))
        except Exception:  # KNIME turns the Java lookup error into KeyError
            raise KeyError(f"Error retrieving credentials for identifier: {identifier}") from None
        return Credential(values[0], values[1], values[2])


class DialogCreationContext(_BaseContext):
    """Passed to ``choices``/``schema_provider`` callables while KNIME builds the dialog."""

    def __init__(self, java_ctx: Any, flow_variables: Dict[str, Any],
                 specs_to_python_converter: Callable[[Any, Dict[str, List[int]]], List[Any]],
                 ) -> None:
        super().__init__(java_ctx, flow_variables)
        port_map = {k: list(v) for k, v in java_ctx.get_input_port_map().items()}
        self._python_specs = specs_to_python_converter(java_ctx.get_input_specs(), port_map)

    def get_input_specs(self) -> List[Any]:
        """Specs of all input ports (``None`` for unconnected ones)."""
        return self._python_specs

    def get_flow_variables(self) -> Dict[str, Any]:
        """The incoming flow variables."""
        return self._flow_variables


class ConfigurationContext(_BaseContext):
    """Context of ``configure``: flow variables, warnings, credentials, port counts."""

    def __init__(self, java_ctx: Any, flow_variables: Dict[str, Any],
                 input_ports: Optional[List[Port]] = None,
                 output_ports: Optional[List[Port]] = None) -> None:
        super().__init__(java_ctx, flow_variables)
        self._input_ports = input_ports
        self._output_ports = output_ports

    def get_connected_input_port_numbers(self) -> List[int]:
        """One entry per declared input port: 1 (port groups are not modelled)."""
        assert self._input_ports is not None
        return [1 for _ in self._input_ports]

    def get_connected_output_port_numbers(self) -> List[int]:
        """One entry per declared output port: 1 (port groups are not modelled)."""
        assert self._output_ports is not None
        return [1 for _ in self._output_ports]

    def set_warning(self, message: str) -> None:
        """Show ``message`` as the node's warning."""
        self._java_ctx.set_warning(str(message))


class ExecutionContext(ConfigurationContext):
    """Context of ``execute``: adds progress, cancellation and workflow directories."""

    def set_progress(self, progress: float, message: Optional[str] = None) -> None:
        """Report progress in [0, 1] (ints accepted; tiny float overshoot is clamped).

        Raises:
            TypeError: ``progress`` is not a number or ``message`` not a str.
            ValueError: ``progress`` is outside [0, 1].
        """
        if isinstance(progress, int):
            progress = float(progress)
        if not isinstance(progress, float):
            raise TypeError(f"progress must be of type float. Got {type(progress)}.")
        if progress < -0.0001 or progress > 1.0001:
            raise ValueError("progress must be between 0.0 and 1.0.")
        progress = min(1.0, max(0.0, progress))
        if message is None:
            self._java_ctx.set_progress(progress)
        elif not isinstance(message, str):
            raise TypeError("message must be a str or None.")
        else:
            self._java_ctx.set_progress(progress, message)

    def is_canceled(self) -> bool:
        """True once the user cancelled execution."""
        return self._java_ctx.is_canceled()

    def get_workflow_temp_dir(self) -> str:
        """Folder for temporary files of this workflow."""
        return self._java_ctx.get_workflow_temp_dir()

    def get_workflow_data_area_dir(self) -> str:
        """The workflow's ``data`` folder."""
        return os.path.join(self._java_ctx.get_workflow_dir(), "data")

    def get_knime_home_dir(self) -> str:
        """KNIME's configuration/log folder."""
        return self._java_ctx.get_knime_home_dir()


class PythonNode(ABC):
    """Optional base class of nodes (``@node`` does not require it)."""

    input_ports: List[Port] = None
    output_ports: List[Port] = None
    output_view: Any = None

    @abstractmethod
    def configure(self, config_context: ConfigurationContext, *inputs: Any) -> Any:
        """Return one spec per output port (or ``None`` if not configurable yet)."""

    @abstractmethod
    def execute(self, exec_context: ExecutionContext, *inputs: Any) -> Any:
        """Return one port object per output port."""


class NodeType(Enum):
    """Node kinds KNIME knows."""

    SOURCE = "Source"
    SINK = "Sink"
    LEARNER = "Learner"
    PREDICTOR = "Predictor"
    MANIPULATOR = "Manipulator"
    VISUALIZER = "Visualizer"
    OTHER = "Other"


class InvalidParametersError(Exception):
    """Raise from configure/execute when the settings are invalid."""


class WorkflowExecutionError(RuntimeError):
    """A workflow run by a node produced no result."""


_categories: List[Dict[str, Any]] = []
_nodes: Dict[str, "_Node"] = {}


def category(path: str, level_id: str, name: str, description: str, icon: str,
             after: str = "", locked: bool = True) -> str:
    """Register a node category and return its full path ``path/level_id``."""
    _categories.append(dict(path=path, level_id=level_id, name=name, description=description,
                            icon=icon, after=after, locked=locked))
    return path + level_id if path.endswith("/") else f"{path}/{level_id}"


def _unwrap(result: Any) -> Any:
    """Materialise lazy views in configure/execute results (tuples become lists, as in KNIME)."""
    def one(value: Any) -> Any:
        return value.get() if isinstance(value, ks._ColumnarView) else value
    if isinstance(result, (list, tuple)):
        return [one(v) for v in result]
    return None if result is None else one(result)


def _wrap_results(method: Callable) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _unwrap(method(*args, **kwargs))
    return wrapper


@dataclass
class _Node:
    """Registry entry of a node (what KNIME reads at start-up)."""

    id: str
    name: str
    node_type: str
    icon_path: str
    category: str
    after: Optional[str]
    keywords: Optional[List[str]]
    is_deprecated: bool
    is_hidden: bool
    input_ports: List[Port]
    output_ports: List[Port]
    output_view: Any
    node_factory: Callable = None


def _discover(factory: Callable, attribute: str) -> Any:
    # KNIME asks a fresh instance first, then the factory itself.
    instance = factory()
    value = getattr(instance, attribute, None)
    return value if value is not None else getattr(factory, attribute, None)


def node(name: str, node_type: NodeType, icon_path: str, category: str, after: str = None,
         keywords: Optional[List[str]] = None, id: str = None, is_deprecated: bool = False,
         is_hidden: bool = False) -> Callable[[Callable], Callable]:
    """Register a node class (or zero-argument factory); the decorator returns a *factory*.

    Registration instantiates the class three times with no arguments. Instances made through
    the factory get ``input_ports``/``output_ports``/``output_view`` and wrapped configure/execute.
    """
    def register(factory: Callable) -> Callable:
        entry = _Node(
            id=id if id is not None else factory.__name__, name=name,
            node_type=node_type.value if isinstance(node_type, NodeType) else "Unknown",
            icon_path=icon_path, category=category, after=after, keywords=keywords,
            is_deprecated=is_deprecated, is_hidden=is_hidden,
            input_ports=_discover(factory, "input_ports") or [],
            output_ports=_discover(factory, "output_ports") or [],
            output_view=_discover(factory, "output_view"))

        def port_injector(*args: Any, **kwargs: Any) -> Any:
            instance = factory(*args, **kwargs)
            if any(isinstance(v, _BaseParameter) or _is_group(v) for v in vars(instance).values()):
                raise AttributeError(
                    "Only parameter group composition is allowed at the node-level; "
                    "declare parameters at class level or in a parameter group.")
            instance.input_ports = entry.input_ports
            instance.output_ports = entry.output_ports
            instance.output_view = entry.output_view
            instance.execute = _wrap_results(instance.execute)
            instance.configure = _wrap_results(instance.configure)
            return instance

        entry.node_factory = port_injector
        _nodes[entry.id] = entry
        return port_injector

    return register


def _add_port(factory: Any, slot: str, port: Port) -> Any:
    marker = f"_knime_double_added_{slot}"
    if getattr(factory, slot, None) is None:
        setattr(factory, slot, [])
        setattr(factory, marker, True)
    elif not getattr(factory, marker, False):
        raise ValueError(f"Cannot use '{slot}' decorator on object which has an attribute "
                         f"'{slot}' already")
    # decorators apply bottom-up, so inserting at the front yields source order
    getattr(factory, slot).insert(0, port)
    return factory


def input_table(name: str, description: str, optional: Optional[bool] = False) -> Callable:
    """Declare a table input; ``optional=True`` passes ``None`` while unconnected."""
    return lambda f: _add_port(f, "input_ports",
                               Port(PortType.TABLE, name, description, optional=optional))


def output_table(name: str, description: str) -> Callable:
    """Declare a table output."""
    return lambda f: _add_port(f, "output_ports", Port(PortType.TABLE, name, description))


def input_port(name: str, description: str, port_type: PortType,
               optional: Optional[bool] = False) -> Callable:
    """Declare a custom-type input; ``optional=True`` passes ``None`` while unconnected."""
    return lambda f: _add_port(f, "input_ports",
                               Port(port_type, name, description, optional=optional))


def output_port(name: str, description: str, port_type: PortType) -> Callable:
    """Declare an output of a custom ``port_type``."""
    return lambda f: _add_port(f, "output_ports", Port(port_type, name, description))
