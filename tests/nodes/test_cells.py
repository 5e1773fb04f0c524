"""KNIME's column types in request bodies, on KNIME's Arrow backend (or the double, which models it).

The input tables are built as KNIME 5.5 delivers them to a node: Date&Time, JSON and set columns in
the Arrow extension type ``knime.logical_type`` over their value factory's storage.
"""

from __future__ import annotations

import json

import knime.extension as knext
import pyarrow as pa
import pytest

from knime_llm.nodes.cells import check_columns, column_values
from knime_llm.nodes.completions import CreateChatCompletion
from tests import knime_harness as kh  # first: against the real package it installs KNIME's backends
from tests.fakeapi import FakeAPI
from tests.nodes.test_completions import CREDS, config

T, V = kh.TIME_FACTORY, kh.VALUE_FACTORY
NAMES = ["d", "t", "ldt", "zdt", "dur", "per", "j", "dates", "tags", "flags", "b", "i", "l", "f", "s", "sl"]


def struct(*types: pa.DataType) -> pa.DataType:
    return pa.struct([pa.field(str(i), t) for i, t in enumerate(types)])


def typed_rows() -> pa.Table:
    """Two rows: one of every type, then one of missing cells."""
    return kh.knime_table(
        ["first", "second"],
        d=kh.Cells(pa.array([19860, None], pa.int64()), T + "LocalDateValueFactory"),
        t=kh.Cells(pa.array([30_600_250_000_000, None], pa.int64()), T + "LocalTimeValueFactory"),
        ldt=kh.Cells(pa.array([{"0": 19860, "1": 30_600_000_000_000}, None], struct(pa.int64(), pa.int64())),
                     T + "LocalDateTimeValueFactory"),
        zdt=kh.Cells(pa.array([{"0": 19860, "1": 30_600_000_000_000, "2": 7200, "3": "Europe/Berlin"}, None],
                              struct(pa.int64(), pa.int64(), pa.int32(), pa.string())),
                     T + "ZonedDateTimeValueFactory2"),
        dur=kh.Cells(pa.array([{"0": 5400, "1": 0}, None], struct(pa.int64(), pa.int32())), T + "DurationValueFactory"),
        per=kh.Cells(pa.array([{"0": 1, "1": 2, "2": 0}, None], struct(pa.int32(), pa.int32(), pa.int32())),
                     T + "PeriodValueFactory"),
        j=kh.Cells(pa.array([{"0": None, "1": bytes(8) + b'{"a": [1, 2], "big": 12345678901234567890}'}, None],
                            struct(pa.string(), pa.large_binary())), kh.JSON_FACTORY),
        dates=kh.Cells(pa.array([[19860, None, 19861], None], pa.list_(pa.int64())), V + "ListValueFactory",
                       inner=T + "LocalDateValueFactory"),
        tags=kh.Cells(pa.array([["x", "y"], None], pa.list_(pa.string())), V + "StringSetValueFactory"),
        flags=kh.Cells(pa.array([{"0": True, "1": False, "2": True}, None], struct(pa.bool_(), pa.bool_(), pa.bool_())),
                       V + "BooleanSetValueFactory"),
        b=pa.array([True, None]), i=pa.array([5, None], pa.int32()), l=pa.array([2**40, None], pa.int64()),
        f=pa.array([0.5, None]), s=pa.array(['say "hi"\n', None]),
        sl=pa.array([["p", None], None], pa.list_(pa.string())))


def template(*names: str) -> str:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "On {{d}} at {{t}}, for {{dur}}"}],
                       "x": {name: "{{%s}}" % name for name in names}})


EXPECTED_FIRST = {
    "d": "2024-05-17", "t": "08:30:00.250", "ldt": "2024-05-17T08:30:00",
    "zdt": "2024-05-17T08:30:00+02:00[Europe/Berlin]", "dur": "PT1H30M", "per": "P1Y2M",
    "j": {"a": [1, 2], "big": 12345678901234567890}, "dates": ["2024-05-17", None, "2024-05-18"],
    "tags": ["x", "y"], "flags": [True, None], "b": True, "i": 5, "l": 2**40, "f": 0.5, "s": 'say "hi"\n',
    "sl": ["p", None]}


def test_every_supported_knime_type_reaches_the_body_as_a_user_would_write_it() -> None:
    rows = knext.Table.from_pyarrow(typed_rows())
    node = CreateChatCompletion()
    node.body.mode, node.body.template, node.settings.validation = "TEMPLATE", template(*NAMES), "OFF"
    [out_spec, _] = kh.run_configure(node, config().spec, rows.schema, ctx=kh.make_config_context(CREDS))
    with FakeAPI() as api:
        out, _ = kh.run_execute(node, kh.make_exec_context(CREDS), config(api.url), rows)
        first, second = api.bodies()
    assert first["x"] == EXPECTED_FIRST
    assert first["messages"][0]["content"] == "On 2024-05-17 at 08:30:00.250, for PT1H30M"
    assert second["x"] == dict.fromkeys(NAMES) and second["messages"][0]["content"] == "On  at , for "
    # the input columns come out as they came in, KNIME types included
    assert kh.row_ids(out) == ["first", "second"]
    assert list(out.schema)[:len(NAMES)] == list(rows.schema) and out.schema == out_spec


def test_a_sliced_batch_reads_its_own_rows() -> None:
    [batch] = list(kh.make_input_table(typed_rows()).batches())
    data = batch.to_pyarrow().slice(1)
    assert column_values(data, "dates") == [None] and column_values(data, "d") == [None]
    assert column_values(batch.to_pyarrow().slice(0, 1), "dates") == [["2024-05-17", None, "2024-05-18"]]


IMAGE = "org.knime.core.data.image.png.PNGImageValueFactory"


def with_image() -> pa.Table:
    image = kh.Cells(pa.array([{"0": None, "1": b"\x89PNG"}], struct(pa.string(), pa.large_binary())), IMAGE)
    return kh.knime_table(["r"], question=pa.array(["Describe it"]), img=image)


def test_a_column_of_another_type_is_refused_at_configure_naming_it() -> None:
    rows = knext.Table.from_pyarrow(with_image())
    node = CreateChatCompletion()
    node.body.mode = "TEMPLATE"
    node.body.template = '{"model": "m", "messages": [{"role": "user", "content": "{{img}}"}]}'
    with pytest.raises(knext.InvalidParametersError) as err:
        kh.run_configure(node, config().spec, rows.schema, ctx=kh.make_config_context(CREDS))
    assert str(err.value).startswith("column 'img' is of type PNGImage, which cannot be put into a request body")
    assert "struct" not in str(err.value) and "storage" not in str(err.value)


def test_a_column_of_another_type_that_no_body_reads_passes_through() -> None:
    rows = knext.Table.from_pyarrow(with_image())
    with FakeAPI() as api:
        out, _ = kh.run_execute(CreateChatCompletion(), kh.make_exec_context(CREDS), config(api.url), rows)
        assert api.bodies()[0]["messages"] == [{"role": "user", "content": "Describe it"}]
    assert out.schema["img"].ktype == rows.schema["img"].ktype


def test_the_type_knime_shows_names_the_column_type() -> None:
    schema = knext.Table.from_pyarrow(with_image()).schema
    image = schema["img"]
    shown = knext.Schema.from_columns([knext.Column(image.ktype, "img", {"displayed_column_type": "PNG Image"})])
    with pytest.raises(Exception, match="column 'img' is of type PNG Image, which"):
        check_columns(shown, ["img"])


def test_a_json_column_can_hold_whole_bodies() -> None:
    body = b'{"model": "m", "messages": [{"role": "user", "content": "From JSON"}]}'
    rows = knext.Table.from_pyarrow(kh.knime_table(["r"], body=kh.Cells(
        pa.array([{"0": None, "1": bytes(8) + body}], struct(pa.string(), pa.large_binary())), kh.JSON_FACTORY)))
    node = CreateChatCompletion()
    node.body.mode, node.body.body_column = "COLUMN", "body"
    with FakeAPI() as api:
        kh.run_execute(node, kh.make_exec_context(CREDS), config(api.url), rows)
        assert api.bodies() == [json.loads(body)]


LOGICAL_JSON = json.dumps({"value_factory_class": kh.JSON_FACTORY}, separators=(",", ":"))  # as KNIME writes it


class _FileStores:
    """KNIME's file-store handler during execute: a file-store key names a file."""

    def __init__(self, folder: object) -> None:
        self.folder = folder

    def file_store_key_to_absolute_path(self, key: str) -> str:
        return str(self.folder / key)


@pytest.mark.skipif(kh.IS_DOUBLE, reason="large JSON cells live in KNIME file stores, read by KNIME's own code")
def test_a_large_json_cell_is_read_from_its_file_store(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import knime.api.table as kt
    import knime.api.types as ktypes

    # What KNIME does at start-up for knime-json's value factory (here a stand-in in tests/nodes),
    # into copies of KNIME's registries that are put back after the test.
    for registry in ("_java_value_factory_to_bundle", "_python_type_to_bundle"):
        monkeypatch.setattr(ktypes, registry, dict(getattr(ktypes, registry)))
    ktypes.register_python_value_factory(
        "tests.nodes.json_value_factory", "JsonValueFactory", "JSON",
        '{"type": "struct", "inner_types": ["string", "variable_width_binary"]}',
        json.dumps({"type": "struct", "traits": {"logical_type": LOGICAL_JSON},
                    "inner": [{"type": "simple", "traits": {}}, {"type": "simple", "traits": {}}]}),
        "builtins.dict")
    monkeypatch.setattr(kt._backend, "file_store_handler", _FileStores(tmp_path), raising=False)
    (tmp_path / "fs-1").write_bytes(bytes(8) + b'{"long": "' + b"x" * 10_000 + b'"}')
    storage = pa.array([{"0": "fs-1", "1": None}, {"0": None, "1": bytes(8) + b"[1]"}],
                       struct(pa.string(), pa.large_binary()))
    table = kh.knime_table(["big", "small"], j=kh.Cells(storage, kh.JSON_FACTORY))
    [batch] = list(kh.make_input_table(table).batches())
    assert column_values(batch.to_pyarrow(), "j") == [{"long": "x" * 10_000}, [1]]
