"""Behaviour of the ``knime.extension`` test double -- and, run the second way described in
``tests/knime_harness.py``, of the real ``knime.extension``: every test here must pass against
both, so any failure against the real package is a bug in the double.

The double follows KNIME 5.5 (what ``knime.yml`` requires). Where later releases behave
differently, a test asserts 5.5's behaviour for the double and for a real 5.5, and the later
behaviour for a later real release (``LATER``), so the suite also passes at knime-python's head.

The dummy nodes mirror the shapes of our nodes: a source node with a custom output port, and a
node with a custom input port, a table input, an optional table input, a table output and the
custom port passed through.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from tests import knime_harness as kh

knext = kh.knext
kp = kh.kp

needs_arrow_backend = pytest.mark.skipif(
    kh.TABLE_BACKEND == "testing",
    reason="knime.extension.testing's pandas-only tables keep no RowIDs and have no Arrow form")
double_only = pytest.mark.skipif(not kh.IS_DOUBLE, reason="double is stricter (KNIME 5.5 surface)")
#: The real package is of a release after 5.5 (whose changes the double does not follow).
LATER = kh.KNIME_VERSION is not None and kh.KNIME_VERSION > (5, 5)
#: How an unset column setting is stored: None up to 5.8, "" from 5.9 on.
NO_COLUMN = "" if kh.KNIME_VERSION is not None and kh.KNIME_VERSION >= (5, 9) else None


class DummySpec(knext.PortObjectSpec):
    """Spec of the dummy connection: which model at which endpoint."""

    def __init__(self, model: str, base_url: str) -> None:
        self.model, self.base_url = model, base_url

    def serialize(self) -> dict:
        return {"model": self.model, "base_url": self.base_url}

    @classmethod
    def deserialize(cls, data: dict) -> "DummySpec":  # no java_callback, like many real specs
        return cls(data["model"], data["base_url"])


class DummyConnection(knext.PortObject):
    """Port object carrying a secret that must survive the bytes round trip."""

    def __init__(self, spec: DummySpec, api_key: str) -> None:
        super().__init__(spec)
        self.api_key = api_key

    def serialize(self) -> bytes:
        return json.dumps({"api_key": self.api_key}).encode()

    @classmethod
    def deserialize(cls, spec: DummySpec, storage: bytes) -> "DummyConnection":
        return cls(spec, json.loads(storage)["api_key"])


dummy_port_type = knext.port_type("Dummy connection", DummyConnection, DummySpec)
dummy_category = knext.category("/community", "dummy_llm", "Dummy", "Test nodes", "icons/c.png")


class Mode(knext.EnumParameterOptions):
    FAST = ("Fast", "Answer quickly.")
    CAREFUL = ("Careful", "Think first.")


@knext.parameter_group("Advanced")
class AdvancedSettings:
    """Rarely changed settings."""

    retries = knext.IntParameter("Retries", "How often to retry.", 2, min_value=0, max_value=5)
    temperature = knext.DoubleParameter("Temperature", "Sampling temperature.", 0.5,
                                        min_value=0.0, max_value=2.0)

    def validate(self, values: dict) -> None:
        if values["retries"] == 0 and values["temperature"] > 1.0:
            raise ValueError("High temperature needs retries")


CONSTRUCTED: list = []


@knext.node("Dummy Connector", knext.NodeType.SOURCE, "icons/connector.png", dummy_category)
@knext.output_port("Connection", "The configured connection.", dummy_port_type)
class DummyConnector:
    """Creates a dummy connection.

    Longer description."""

    credential = knext.StringParameter(
        "Credentials", "Credential flow variable holding the API key.",
        choices=lambda ctx: knext.DialogCreationContext.get_credential_names(ctx))
    model = knext.StringParameter("Model", "Model name.", "gpt-dummy")
    mode = knext.EnumParameter("Mode", "How to answer.", Mode.FAST.name, Mode)
    advanced = AdvancedSettings()

    def __init__(self) -> None:
        CONSTRUCTED.append("connector")

    def configure(self, ctx):
        return DummySpec(self.model, "http://localhost:1")

    def execute(self, ctx):
        secret = ctx.get_credentials(self.credential)
        return DummyConnection(DummySpec(self.model, "http://localhost:1"), secret.password)


CONSTRUCTED_AT_REGISTRATION = CONSTRUCTED.count("connector")
SEEN: dict = {}


@knext.node("Dummy Prompter", knext.NodeType.MANIPULATOR, "icons/prompter.png", dummy_category,
            id="dummy.prompter")
@knext.input_port("Connection", "Connection to use.", dummy_port_type)
@knext.input_table("Prompts", "One prompt per row.")
@knext.input_table("Extra", "Optional extra rows.", optional=True)
@knext.output_table("Results", "Prompts with responses.")
@knext.output_port("Connection", "The connection, passed through.", dummy_port_type)
class DummyPrompter:
    """Answers prompts.

    Appends a response column."""

    column = knext.ColumnParameter("Prompt column", "Column holding the prompts.", port_index=1)
    repeat = knext.IntParameter("Repeat", "Times to repeat.", 1, min_value=1, max_value=3)
    suffix = knext.StringParameter("Suffix", "Appended to answers.", "!", since_version="1.1.0")
    verbose = knext.BoolParameter("Verbose", "More output.").rule(
        knext.OneOf(repeat, [2, 3]), knext.Effect.SHOW)

    def configure(self, ctx, spec, schema, extra_schema):
        SEEN["extra_spec"] = extra_schema
        SEEN["spec_type"] = type(spec)
        if self.column is None:
            ctx.set_warning("No prompt column selected; using the first column")
        return schema.append(knext.Column(knext.string(), "response")), spec

    def execute(self, ctx, connection, table, extra):
        SEEN["extra_table"] = extra
        SEEN["batches"] = len(list(table.batches()))
        df = table.to_pandas()
        column = self.column or df.columns[0]
        df["response"] = [f"{connection.api_key}:{p}{self.suffix}" for p in df[column]]
        ctx.set_progress(0.5, "half way")
        ctx.set_progress(1)
        ctx.flow_variables["responses"] = len(df)
        return knext.Table.from_pandas(df), connection


@knext.node("Frame Returner", knext.NodeType.MANIPULATOR, "icons/x.png", dummy_category)
@knext.input_table("In", "Input.")
@knext.output_table("Out", "Output.")
class FrameReturner:
    """Returns a DataFrame, which KNIME rejects."""

    def configure(self, ctx, schema):
        return schema

    def execute(self, ctx, table):
        return table.to_pandas()


def prompts_frame() -> pd.DataFrame:
    return pd.DataFrame({"prompt": ["a", "b", "c"]}, index=["r1", "r2", "r3"])


def connection() -> DummyConnection:
    return DummyConnection(DummySpec("gpt-dummy", "http://localhost:1"), "k3y")


# ---------------------------------------------------------------- registration and ports


def test_node_decorator_returns_a_factory_and_instantiates_three_times() -> None:
    assert CONSTRUCTED_AT_REGISTRATION == 3
    assert not isinstance(DummyConnector, type)
    before = CONSTRUCTED.count("connector")
    node = DummyConnector()
    assert CONSTRUCTED.count("connector") == before + 1
    assert node.input_ports == [] and len(node.output_ports) == 1


def test_registry_keeps_nodes_by_id_and_category_path() -> None:
    assert dummy_category == "/community/dummy_llm"
    assert "DummyConnector" in knext.nodes._nodes
    assert "dummy.prompter" in knext.nodes._nodes
    assert knext.nodes._nodes["DummyConnector"].node_type == "Source"


def test_ports_follow_source_order_with_optional_flag() -> None:
    node = DummyPrompter()
    assert [p.name for p in node.input_ports] == ["Connection", "Prompts", "Extra"]
    assert [p.optional for p in node.input_ports] == [False, False, True]
    assert node.input_ports[0].type is dummy_port_type
    assert node.input_ports[1].type == knext.PortType.TABLE
    assert [p.name for p in node.output_ports] == ["Results", "Connection"]


def test_port_decorator_refuses_a_handwritten_port_list() -> None:
    class Handwritten:
        input_ports = []

    with pytest.raises(ValueError):
        knext.input_table("In", "Input.")(Handwritten)


def test_parameters_created_in_init_fail_on_instantiation() -> None:
    @knext.node("Bad", knext.NodeType.OTHER, "icons/x.png", dummy_category)
    class InstanceParams:
        def __init__(self) -> None:
            self.param = knext.IntParameter("P", "p")

        configure = execute = lambda self, ctx: None

    with pytest.raises(AttributeError):
        InstanceParams()


def test_port_type_registration_rules() -> None:
    assert dummy_port_type.id == f"{kh.EXTENSION_ID}.{__name__}.DummyConnection"
    assert dummy_port_type.object_class is DummyConnection
    assert dummy_port_type.spec_class is DummySpec
    with pytest.raises(ValueError):
        knext.port_type("Again", DummyConnection, DummySpec)


# ---------------------------------------------------------------- parameters


def test_defaults_are_extracted_as_model_dict() -> None:
    assert kp.extract_parameters(DummyConnector()) == {"model": {
        "credential": "", "model": "gpt-dummy", "mode": "FAST",
        "advanced": {"retries": 2, "temperature": 0.5}}}
    assert kp.extract_parameters(DummyPrompter())["model"]["column"] == NO_COLUMN


@pytest.mark.parametrize(("name", "value", "error"), [
    ("repeat", 4, ValueError), ("repeat", 0, ValueError), ("repeat", 1.5, TypeError),
    ("suffix", 3, TypeError), ("verbose", 1, TypeError),
])
def test_assignment_validates_immediately(name: str, value: object, error: type) -> None:
    node = DummyPrompter()
    with pytest.raises(error):
        setattr(node, name, value)


def test_enum_values_are_member_names() -> None:
    fast = Mode.FAST
    assert (fast.name, fast.label, fast.description) == ("FAST", "Fast", "Answer quickly.")
    assert Mode.get_all_options() == ["FAST", "CAREFUL"]
    node = DummyConnector()
    node.mode = Mode.CAREFUL.name
    assert kp.extract_parameters(node)["model"]["mode"] == "CAREFUL"
    with pytest.raises(ValueError):
        node.mode = "SLOPPY"


def test_lenient_checks_match_knime() -> None:
    node = DummyPrompter()
    node.repeat = True  # bool is an int for KNIME
    node.column = None
    connector = DummyConnector()
    connector.advanced.temperature = 1  # ints are numbers
    connector.credential = "not-in-choices"  # choices only shape the dialog
    assert kp.extract_parameters(node)["model"]["column"] == NO_COLUMN
    assert kp.extract_parameters(connector)["model"]["advanced"]["temperature"] == 1


def test_custom_validator_replaces_range_check_but_enum_validator_combines() -> None:
    @knext.node("Validators", knext.NodeType.OTHER, "icons/x.png", dummy_category)
    class Validators:
        times = knext.IntParameter("Times", "t", 1, max_value=10)
        mode = knext.EnumParameter("Mode", "m", Mode.FAST.name, Mode)

        @times.validator
        def _times(value):
            if value == 7:
                raise ValueError("no sevens")

        @mode.validator
        def _mode(value):
            if value == "CAREFUL":
                raise ValueError("not today")

        configure = execute = lambda self, ctx: None

    node = Validators()
    node.times = 11  # the max_value check is gone
    with pytest.raises(ValueError):
        node.times = 7
    with pytest.raises(ValueError):
        node.mode = "CAREFUL"
    with pytest.raises(ValueError):
        node.mode = "SLOPPY"  # member check kept


def test_group_values_live_in_the_node() -> None:
    node = DummyConnector()
    node.advanced.retries = 4
    assert node.advanced.retries == 4
    assert DummyConnector().advanced.retries == 2
    with pytest.raises(ValueError):
        node.advanced.retries = 9
    with pytest.raises(RuntimeError):
        node.advanced = {}


@knext.parameter_group("Limits")
class Limits:
    """Request limits."""

    per_minute = knext.IntParameter("Per minute", "Requests per minute.", 60, min_value=1)


@knext.parameter_group("Network", is_advanced=True)
class Network:
    """Network settings."""

    timeout = knext.DoubleParameter("Timeout", "Seconds.", 30.0, min_value=0.0)
    limits = Limits()


def test_nested_groups_store_nested_dicts() -> None:
    @knext.node("Nested", knext.NodeType.OTHER, "icons/x.png", dummy_category)
    class Nested:
        network = Network()
        late = Limits(since_version="1.3.0")
        configure = execute = lambda self, ctx: None

    node = Nested()
    node.network.limits.per_minute = 5
    assert kp.extract_parameters(node) == {"model": {
        "network": {"timeout": 30.0, "limits": {"per_minute": 5}}, "late": {"per_minute": 60}}}
    with pytest.raises(ValueError):
        node.network.limits.per_minute = 0
    settings = kp.extract_parameters(node)
    del settings["model"]["late"]
    kp.validate_parameters(Nested(), settings, "1.2.0")
    with pytest.raises(ValueError, match='Parameter missing for key "late"'):
        kp.validate_parameters(Nested(), settings, "1.3.0")
    kh.settings_roundtrip(node)


def test_validate_reports_missing_keys_bad_values_and_group_rules() -> None:
    settings = kp.extract_parameters(DummyConnector())
    kp.validate_parameters(DummyConnector(), settings)
    missing = json.loads(json.dumps(settings))
    del missing["model"]["model"]
    with pytest.raises(ValueError, match='Parameter missing for key "model"'):
        kp.validate_parameters(DummyConnector(), missing)
    bad = json.loads(json.dumps(settings))
    bad["model"]["advanced"] = {"retries": 0, "temperature": 1.5}
    with pytest.raises(ValueError, match="High temperature"):
        kp.validate_parameters(DummyConnector(), bad)


def test_inject_sets_values_and_rejects_invalid_ones() -> None:
    node = DummyPrompter()
    settings = kp.extract_parameters(node)
    settings["model"].update(column="prompt", repeat=3)
    kp.inject_parameters(node, settings)
    assert (node.column, node.repeat) == ("prompt", 3)
    settings["model"]["column"] = ""
    kp.inject_parameters(node, settings)
    assert node.column is None
    settings["model"]["repeat"] = 99
    with pytest.raises(ValueError):
        kp.inject_parameters(node, settings)


def test_since_version_parameters_may_be_missing_from_older_settings() -> None:
    settings = kp.extract_parameters(DummyPrompter())
    del settings["model"]["suffix"]
    kp.validate_parameters(DummyPrompter(), settings, "1.0.0")
    with pytest.raises(ValueError, match='Parameter missing for key "suffix"'):
        kp.validate_parameters(DummyPrompter(), settings, "1.1.0")


def test_callable_defaults_depend_on_the_saved_version() -> None:
    @knext.node("Versioned", knext.NodeType.OTHER, "icons/x.png", dummy_category)
    class Versioned:
        limit = knext.IntParameter(
            "Limit", "l", lambda v: 100 if v >= knext.Version(2, 0, 0) else 10,
            since_version="2.0.0")
        configure = execute = lambda self, ctx: None

    kh.set_extension_version("2.1.0")
    assert Versioned().limit == 100
    node = Versioned()
    kp.inject_parameters(node, {"model": {}}, "1.5.0")
    assert node.limit == 10
    old_schema = kp.extract_schema(Versioned(), "1.9.9")["properties"]["model"]["properties"]
    assert "limit" not in old_schema


def test_schema_and_descriptions() -> None:
    props = kp.extract_schema(DummyConnector())["properties"]["model"]["properties"]
    assert props["model"]["type"] == "string"
    assert [o["const"] for o in props["mode"]["oneOf"]] == ["FAST", "CAREFUL"]
    assert props["advanced"]["properties"]["retries"]["type"] == "integer"
    assert props["advanced"]["properties"]["temperature"]["type"] == "number"
    tabs, has_tabs = kp.extract_parameter_descriptions(DummyConnector())
    assert has_tabs and [t["name"] for t in tabs] == ["Options", "Advanced"]
    assert [o["name"] for o in tabs[1]["options"]] == ["Retries", "Temperature"]
    flat, has_tabs = kp.extract_parameter_descriptions(DummyPrompter())
    assert not has_tabs
    assert [d["name"] for d in flat] == ["Prompt column", "Repeat", "Suffix", "Verbose"]


def test_dialog_choices_list_the_credential_names() -> None:
    ctx = kh.make_dialog_context(credentials={"openai": ("u", "p"), "other": ("v", "q")})
    props = kp.extract_schema(DummyConnector(), None, ctx)["properties"]["model"]["properties"]
    assert [o["const"] for o in props["credential"]["oneOf"]] == ["openai", "other"]


def test_enum_parameter_quirks_of_knime() -> None:
    with pytest.raises(AttributeError):
        knext.EnumParameter("Mode", "m", enum=Mode)  # no default: KNIME fails too
    with pytest.raises(AttributeError):
        knext.EnumParameter("Mode", "m", "FAST", Mode, validator=lambda v: None)


def test_settings_roundtrip_helper() -> None:
    node = DummyConnector()
    node.model = "other"
    node.advanced.retries = 5
    settings = kh.settings_roundtrip(node)
    assert settings["model"]["advanced"]["retries"] == 5


def test_version_parsing() -> None:
    assert knext.Version.parse_version("1.2.3") == knext.Version(1, 2, 3) > knext.Version(1, 2, 0)
    assert str(knext.Version(1, 2, 3)) == "1.2.3"
    with pytest.raises(ValueError):
        knext.Version.parse_version("1.2")


@double_only
def test_double_refuses_api_newer_than_knime_5_5() -> None:
    with pytest.raises(TypeError):
        knext.StringParameter("S", "s", choices=["a", "b"])
    with pytest.raises(TypeError):
        knext.EnumParameter("Mode", "m", Mode.FAST, Mode)


# ---------------------------------------------------------------- specs and port objects


def test_custom_spec_and_port_object_round_trips() -> None:
    spec = kh.roundtrip_spec(DummySpec("m", "http://x"))
    assert (spec.model, spec.base_url) == ("m", "http://x")
    obj = kh.roundtrip_port_object(connection())
    assert obj.api_key == "k3y" and obj.spec.model == "gpt-dummy"


def test_schema_json_round_trip_and_duplicate_rejection() -> None:
    schema = knext.Schema.from_columns([
        knext.Column(knext.int64(), "n"), knext.Column(knext.string(), "s"),
        knext.Column(knext.list_(knext.double()), "l"), knext.Column(knext.bool_(), "b")])
    assert kh.roundtrip_spec(schema) == schema
    assert schema.serialize()["columnNames"] == ["RowKey", "n", "s", "l", "b"]
    duplicated = knext.Schema.from_columns([knext.Column(knext.int64(), "n")] * 2)
    with pytest.raises(RuntimeError):
        duplicated.serialize()


def test_schema_views_and_type_names() -> None:
    s_column = knext.Column(knext.string(), "s")
    schema = knext.Schema.from_columns([knext.Column(knext.int64(), "n"), s_column])
    assert schema["s"].ktype == knext.string()
    assert schema.append(knext.Column(knext.double(), "d")).column_names == ["n", "s", "d"]
    assert schema.remove("n").get() == knext.Schema.from_columns([s_column])
    names = [str(t) for t in (knext.int32(), knext.int64(), knext.double(), knext.bool_(), knext.string())]
    assert names == (["Number (Integer)", "Number (Long Integer)", "Number (Float)", "Boolean", "String"] if LATER
                     else ["Number (integer)", "Number (long)", "Number (double)", "Boolean value", "String"])
    with pytest.raises(ValueError):
        knext.Column(knext.int64(), " ")


# ---------------------------------------------------------------- tables


@needs_arrow_backend
def test_from_pandas_keeps_row_ids_and_maps_types() -> None:
    df = pd.DataFrame({"i": [1, 2], "f": [0.5, None], "s": ["x", None], "b": [True, False],
                       "l": [[1, 2], []]}, index=["r1", "r2"])
    table = knext.Table.from_pandas(df)
    assert table.num_rows == 2 and table.column_names == ["i", "f", "s", "b", "l"]
    assert [c.ktype for c in table.schema] == [
        knext.int64(), knext.double(), knext.string(), knext.bool_(), knext.list_(knext.int64())]
    back = table.to_pandas()
    assert list(back.index) == ["r1", "r2"] and back.index.name == "<RowID>"
    assert back["s"].dtype == pd.StringDtype()
    assert table.to_pyarrow().column_names[0] == "<RowID>"


@needs_arrow_backend
@pytest.mark.parametrize(("index", "mode", "expected"), [
    ([5, 7], "auto", ["Row5", "Row7"]), ([5, 7], "keep", ["5", "7"]),
    (["a", "b"], "generate", ["Row0", "Row1"]), (["a", "b"], "auto", ["a", "b"]),
])
def test_row_id_modes(index: list, mode: str, expected: list) -> None:
    table = knext.Table.from_pandas(pd.DataFrame({"x": [1, 2]}, index=index), row_ids=mode)
    assert kh.row_ids(table) == expected


@needs_arrow_backend
def test_from_pyarrow_row_ids() -> None:
    with_ids = pa.table({"<RowID>": ["a", "b"], "x": [1, 2]})
    assert kh.row_ids(knext.Table.from_pyarrow(with_ids)) == ["a", "b"]
    assert kh.row_ids(knext.Table.from_pyarrow(pa.table({"x": [1, 2]}))) == ["Row0", "Row1"]
    with pytest.raises(TypeError):
        knext.Table.from_pyarrow(pa.table({"x": [1, 2]}), row_ids="keep")


@needs_arrow_backend
def test_table_rejections() -> None:
    with pytest.raises(ValueError):
        knext.Table.from_pandas(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(ValueError):
        knext.Table.from_pandas(pd.DataFrame({"u": pd.Series([1], dtype="uint8")}))
    with pytest.raises(ValueError):
        knext.Table.from_pandas(pd.DataFrame({"x": [1]}), row_ids="random")
    with pytest.raises(ValueError):
        knext.Table.from_pandas([1, 2])
    with pytest.raises(TypeError):
        knext.Table()


@needs_arrow_backend
def test_batches_only_on_input_tables() -> None:
    df = pd.DataFrame({"x": range(5)})
    with pytest.raises(RuntimeError):
        list(knext.Table.from_pandas(df).batches())
    parts = list(kh.make_input_table(df, batch_size=2).batches())
    assert [p.num_rows for p in parts] == [2, 2, 1]
    assert kh.row_ids(parts[2]) == ["Row4"]


@needs_arrow_backend
def test_batch_output_table_row_ids() -> None:
    kept = knext.BatchOutputTable.create()
    kept.append(pd.DataFrame({"x": [1, 2]}, index=["a", "b"]))
    kept.append(pd.DataFrame({"x": [3]}))
    assert kept.num_batches == 2 and kh.row_ids(kh.as_table(kept)) == ["a", "b", "0"]
    generated = knext.BatchOutputTable.from_batches(
        iter([pd.DataFrame({"x": [1]}, index=["q"]), pd.DataFrame({"x": [2]}, index=["w"])]))
    assert kh.row_ids(kh.as_table(generated)) == ["Row0", "Row1"]
    with pytest.raises(ValueError):
        knext.BatchOutputTable.create(row_ids="auto")
    with pytest.raises(TypeError):
        kept.append([1])
    with pytest.raises(RuntimeError):
        knext.BatchOutputTable()


# ---------------------------------------------------------------- contexts and running nodes


def test_set_progress_checks_type_and_range() -> None:
    ctx = kh.make_exec_context()
    ctx.set_progress(1)
    ctx.set_progress(1.00001)
    ctx.set_progress(0.25, "quarter")
    for bad, error in [(1.5, ValueError), (-0.1, ValueError), ("0.5", TypeError)]:
        with pytest.raises(error):
            ctx.set_progress(bad)
    with pytest.raises(TypeError):
        ctx.set_progress(0.5, 3)
    assert ctx.progress == [(1.0, None), (1.0, None), (0.25, "quarter")]


def test_credentials_lookup() -> None:
    ctx = kh.make_config_context(credentials={"openai": ("user", "s3cret")})
    assert ctx.get_credential_names() == ["openai"]
    cred = ctx.get_credentials("openai")
    assert (cred.username, cred.password, cred.credential_name) == ("user", "s3cret", "openai")
    with pytest.raises(KeyError):
        ctx.get_credentials("missing")


def test_flow_variables_are_locked_like_knime() -> None:
    ctx = kh.make_config_context(flow_variables={"knime.workspace": "/w", "x": 1})
    ctx.flow_variables["y"] = [1, 2]
    with pytest.raises(ValueError):
        ctx.flow_variables["knime.other"] = "no"
    with pytest.raises(RuntimeError):
        del ctx.flow_variables["x"]


def test_source_node_configures_and_executes_with_credentials() -> None:
    node = DummyConnector()
    node.credential = "openai"
    [spec] = kh.run_configure(node)
    assert isinstance(spec, DummySpec) and spec.model == "gpt-dummy"
    [conn] = kh.run_execute(node, kh.make_exec_context(credentials={"openai": ("u", "k3y")}))
    assert conn.api_key == "k3y"
    with pytest.raises(KeyError):
        kh.run_execute(node, kh.make_exec_context())


def test_optional_input_is_none_when_unconnected() -> None:
    schema = knext.Schema.from_columns([knext.Column(knext.string(), "prompt")])
    ctx = kh.make_config_context()
    out_schema, out_spec = kh.run_configure(
        DummyPrompter(), connection().spec, schema, None, ctx=ctx)
    assert SEEN["extra_spec"] is None and SEEN["spec_type"] is DummySpec
    assert out_schema.column_names == ["prompt", "response"]
    assert isinstance(out_spec, DummySpec)
    assert ctx.warnings == ["No prompt column selected; using the first column"]
    with pytest.raises(ValueError):
        kh.run_configure(DummyPrompter(), connection().spec, None, None)


def test_prompter_executes_and_passes_connection_through() -> None:
    node = DummyPrompter()
    node.column = "prompt"
    ctx = kh.make_exec_context()
    table, conn = kh.run_execute(node, ctx, connection(), prompts_frame(), None)
    assert SEEN["extra_table"] is None and SEEN["batches"] == 1
    df = table.to_pandas()
    assert list(df["response"]) == ["k3y:a!", "k3y:b!", "k3y:c!"]
    assert conn.api_key == "k3y"
    assert ctx.progress[-1] == (1.0, None) and ctx.flow_variables["responses"] == 3


@needs_arrow_backend
def test_prompter_output_keeps_row_ids() -> None:
    node = DummyPrompter()
    node.column = "prompt"
    table, _ = kh.run_execute(node, kh.make_exec_context(), connection(), prompts_frame(), None)
    assert kh.row_ids(table) == ["r1", "r2", "r3"]


def test_execute_returning_a_dataframe_is_rejected() -> None:
    with pytest.raises(TypeError):
        kh.run_execute(FrameReturner(), kh.make_exec_context(), prompts_frame())


def test_runner_checks_specs_objects_and_row_ids() -> None:
    schema = knext.Schema.from_columns([knext.Column(knext.string(), "prompt")])
    with pytest.raises(AssertionError):  # a Schema where the connection spec belongs
        kh.run_configure(DummyPrompter(), schema, schema, None)

    @knext.node("Bad outputs", knext.NodeType.OTHER, "icons/x.png", dummy_category)
    @knext.input_table("In", "Input.")
    @knext.output_table("Out", "Output.")
    @knext.output_port("Connection", "Connection.", dummy_port_type)
    class BadOutputs:
        def configure(self, ctx, schema):
            raise knext.InvalidParametersError("Select a column")

        def execute(self, ctx, table):
            df = table.to_pandas()
            return knext.Table.from_pandas(df), "not a connection"

    with pytest.raises(knext.InvalidParametersError, match="Select a column"):
        kh.run_configure(BadOutputs(), schema)
    with pytest.raises(AssertionError):
        kh.run_execute(BadOutputs(), kh.make_exec_context(), prompts_frame())

    @knext.node("Duplicator", knext.NodeType.OTHER, "icons/x.png", dummy_category)
    @knext.input_table("In", "Input.")
    @knext.output_table("Out", "Output.")
    class Duplicator:
        def configure(self, ctx, schema):
            return schema

        def execute(self, ctx, table):
            df = table.to_pandas()
            return knext.Table.from_pandas(pd.concat([df, df]))

    with pytest.raises(ValueError, match="duplicate RowIDs"):
        kh.run_execute(Duplicator(), kh.make_exec_context(), prompts_frame())


def test_cancelled_execution_discards_results() -> None:
    node = DummyPrompter()
    node.column = "prompt"
    ctx = kh.make_exec_context(cancel_after=0)
    assert ctx.is_canceled()
    with pytest.raises(kh.ExecutionCanceled):
        kh.run_execute(node, ctx, connection(), prompts_frame(), None)


def test_testing_contexts_exist() -> None:
    import knime.extension.testing as ktest

    ctx = ktest.TestingExecutionContext()
    ctx.set_progress(5)  # the official testing context ignores progress
    assert not ctx.is_canceled() and ctx.flow_variables == {}
    assert isinstance(ktest.TestingConfigurationContext(), knext.ConfigurationContext)


# ---------------------------------------------------------------- KNIME's own column types

T, V = kh.TIME_FACTORY, kh.VALUE_FACTORY


def _struct(*types: pa.DataType) -> pa.DataType:
    return pa.struct([pa.field(str(i), t) for i, t in enumerate(types)])


def typed_table() -> pa.Table:
    """One column of each kind, as KNIME 5.5 delivers them (storage layouts of its value factories)."""
    return kh.knime_table(
        ["r0", "r1"], text=pa.array(["a", None]), n=pa.array([7, None], pa.int64()),
        date=kh.Cells(pa.array([19860, None], pa.int64()), T + "LocalDateValueFactory"),
        stamp=kh.Cells(pa.array([{"0": 19860, "1": 30_600_000_000_000}, None], _struct(pa.int64(), pa.int64())),
                       T + "LocalDateTimeValueFactory"),
        json=kh.Cells(pa.array([{"0": None, "1": bytes(8) + b'{"a": 1}'}, None],
                               _struct(pa.string(), pa.large_binary())), kh.JSON_FACTORY),
        dates=kh.Cells(pa.array([[1, 2], None], pa.list_(pa.int64())), V + "ListValueFactory",
                       inner=T + "LocalDateValueFactory"),
        tags=kh.Cells(pa.array([["x"], []], pa.list_(pa.string())), V + "StringSetValueFactory"))


def _logical(factory: str, storage: object) -> object:
    return knext.LogicalType(json.dumps({"value_factory_class": factory}, separators=(",", ":")), storage)


@needs_arrow_backend
def test_knime_types_show_as_logical_types_in_the_schema() -> None:
    schema = kh.make_input_table(typed_table()).schema
    assert [c.ktype for c in schema] == [
        knext.string(), knext.int64(), _logical(T + "LocalDateValueFactory", knext.int64()),
        _logical(T + "LocalDateTimeValueFactory", knext.struct(knext.int64(), knext.int64())),
        _logical(kh.JSON_FACTORY, knext.struct(knext.string(), knext.blob())),
        knext.list_(_logical(T + "LocalDateValueFactory", knext.int64())),
        _logical(V + "StringSetValueFactory", knext.list_(knext.string()))]
    assert kh.roundtrip_spec(schema) == schema  # configure sees them through KNIME's JSON


@needs_arrow_backend
def test_to_pyarrow_gives_plain_primitives_and_knime_types_in_their_extension_type() -> None:
    [batch] = list(kh.make_input_table(typed_table()).batches())
    data = batch.to_pyarrow()
    assert [f.type for f in data.schema][:3] == [pa.string(), pa.string(), pa.int64()]
    assert data.column(1).to_pylist() == ["a", None] and data.column(2).to_pylist() == [7, None]
    for index, factory in [(3, T + "LocalDateValueFactory"), (4, T + "LocalDateTimeValueFactory"),
                           (5, kh.JSON_FACTORY), (6, V + "ListValueFactory"), (7, V + "StringSetValueFactory")]:
        column_type = data.schema.field(index).type
        assert isinstance(column_type, pa.ExtensionType) and column_type.extension_name == "knime.logical_type"
        assert json.loads(column_type.__arrow_ext_serialize__()) == {"value_factory_class": factory}
    assert data.column(3).storage.to_pylist() == [19860, None]  # days since 1970: 2024-05-17
    assert data.column(4).storage.to_pylist() == [{"0": 19860, "1": 30_600_000_000_000}, None]
    assert data.column(5).storage.field("1").to_pylist()[0] == bytes(8) + b'{"a": 1}'
    assert data.column(7).storage.to_pylist() == [["x"], []]


@needs_arrow_backend
def test_knime_typed_columns_pass_through_to_the_output() -> None:
    [batch] = list(kh.make_input_table(typed_table()).batches())
    out = knext.BatchOutputTable.create()
    out.append(batch.to_pyarrow())
    table = kh.as_table(out)
    assert table.schema == kh.make_input_table(typed_table()).schema
    assert kh.row_ids(table) == ["r0", "r1"]


@needs_arrow_backend
@pytest.mark.parametrize("sizes, ok", [([3, 3, 2], True), ([3, 3, 3], True), ([3, 2, 3], False), ([2, 3], False)])
def test_output_batches_but_the_last_have_the_first_ones_size(sizes: list, ok: bool) -> None:
    out = knext.BatchOutputTable.create(row_ids="generate")
    appended = 0
    try:
        for size in sizes:
            out.append(pa.table({"x": list(range(size))}))
            appended += 1
    except ValueError:
        pass
    assert appended == (len(sizes) if ok else len(sizes) - 1)


@needs_arrow_backend
def test_output_batches_share_one_schema() -> None:
    out = knext.BatchOutputTable.create(row_ids="generate")
    out.append(pa.table({"x": [1, 2]}))
    with pytest.raises(ValueError):
        out.append(pa.table({"x": ["a", "b"]}))


# ---------------------------------------------------------------- descriptions

MARKDOWN_SAMPLES = [
    "Plain text with a 'quote', \"double\" quotes, & and <.",
    "**Bold**, *italic*, ***both***, __under__, _it_, snake_case_word and 2 * 3 * 4.",
    "- one\n- two `code <x>` here\n\n  continued\n\n1. first\n2. second",
    "Intro:\n\n```\n{\"a\": \"{{b}}\", \"c\": [1, 2]}\n```\n\nAfter.",
    "- item\n\n  ```\n  code in a list item\n  ```\n- next",
    "# H1\n## H2\n### H3\n#### H4\ntext\n---\nmore\n\n***\n\n> quote",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "[x](http://e.com), <http://auto.com>, <b>raw</b>, ![img](x.png), **bold `code` [link](u)**",
    "    indented code\n    block\n\nSetext\n======\n\nEscaped \\*star\\*",
]


def _double_markdown() -> object:
    path = Path(__file__).parent / "knime_double" / "knime" / "extension" / "_markdown.py"
    spec = importlib.util.spec_from_file_location("knime_double_markdown", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(kh.IS_DOUBLE, reason="compares the double's renderer with KNIME's own")
@pytest.mark.parametrize("sample", MARKDOWN_SAMPLES)
def test_the_doubles_markdown_renders_like_knimes(sample: str) -> None:
    from knime.extension._markdown import KnimeMarkdownParser

    real, double = KnimeMarkdownParser(), _double_markdown().KnimeMarkdownParser()
    for kind in ("parse_full_description", "parse_basic", "parse_option_description", "parse_port_description",
                 "parse_tab_description"):
        assert getattr(double, kind)(sample) == getattr(real, kind)(sample), kind
