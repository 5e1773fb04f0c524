"""The extension as KNIME loads it: knime.yml, the extension module, icons, node descriptions."""

from __future__ import annotations

import html
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import knime.extension as knext
import knime.extension.nodes as knext_nodes
import knime.extension.parameter as knext_parameter
import pytest

from knime_llm.nodes.completions import _CHAT_EXAMPLE, _COMPLETION_EXAMPLE, CreateChatCompletion, CreateCompletion
from knime_llm.results import result_columns
from knime_llm.settings import ResultFormat
from tests import knime_harness as kh  # first: installs KNIME's backends for the real package

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
NODES = {"OpenAI Connector", "Create Chat Completion", "Create Completion"}


def knime_yml() -> dict:
    return yaml.safe_load((ROOT / "knime.yml").read_text())


def test_knime_yml_has_what_kNIME_requires() -> None:
    data = knime_yml()
    for key in ("name", "group_id", "version", "author", "vendor", "description", "long_description",
                "license_file", "extension_module", "pixi_toml_path", "feature_dependencies"):
        assert data.get(key), f"knime.yml lacks {key}"
    assert (ROOT / data["license_file"]).is_file() and (ROOT / data["pixi_toml_path"]).is_file()
    assert data["version"].count(".") == 2
    assert any(dep.startswith("org.knime.features.core 5.5") for dep in data["feature_dependencies"])


def test_the_extension_module_imports_the_way_knime_imports_it() -> None:
    # KNIME puts the folder holding the module on sys.path and imports the module by name.
    # The real package comes from PYTHONPATH, which the child inherits; the double only when in use.
    module = knime_yml()["extension_module"]
    paths = [str(ROOT / Path(module).parent)] + ([str(ROOT / "tests" / "knime_double")] if kh.IS_DOUBLE else [])
    code = ("import sys, importlib, json; sys.path[:0] = json.loads(sys.argv[1]); "
            "from tests import knime_harness; importlib.import_module(sys.argv[2]); "
            "import knime.extension.nodes as n; print(sorted(x.name for x in n._nodes.values()))")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(paths), Path(module).name],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert set(eval(result.stdout)) >= NODES


def registered() -> list:
    import knime_llm_extension  # noqa: F401
    return [n for n in knext_nodes._nodes.values() if n.name in NODES]


def test_every_node_has_a_16px_icon_and_our_category() -> None:
    nodes = registered()
    assert {n.name for n in nodes} == NODES
    for node in nodes:
        icon = ROOT / node.icon_path
        header = icon.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (16, 16), icon
        assert node.category == "/community/knime_llm"
    assert (ROOT / "icons" / "category.png").is_file()


def test_every_node_and_parameter_is_described() -> None:
    for node in registered():
        instance = node.node_factory()
        doc = type(instance).__doc__ or ""
        short, _, full = doc.strip().partition("\n")
        assert short and full.strip(), f"{node.name} needs a short and a full description"
        descriptions = knext_parameter.extract_parameter_descriptions(instance)
        params = [p for tab in descriptions[0] for p in tab.get("options", [])] if descriptions[1] else descriptions[0]
        assert params and all(p["description"].strip() for p in params), node.name
        for port in instance.input_ports + instance.output_ports:
            assert port.description.strip()


def test_the_configuration_port_type_is_shared_by_all_nodes() -> None:
    from knime_llm.nodes.ports import CONFIG_PORT

    nodes = {n.name: n.node_factory() for n in registered()}
    assert nodes["OpenAI Connector"].output_ports[0].type == CONFIG_PORT
    for name in ("Create Chat Completion", "Create Completion"):
        ports = nodes[name]
        assert ports.input_ports[0].type == CONFIG_PORT and ports.output_ports[1].type == CONFIG_PORT
        assert ports.input_ports[1].type == knext.PortType.TABLE and not ports.input_ports[1].optional


def rendered(node: object) -> dict:
    """The node's description as KNIME renders it from Markdown (KNIME's renderer, or the double's)."""
    from knime.extension._markdown import KnimeMarkdownParser

    return kh.describe(node, KnimeMarkdownParser())


def all_html(description: dict) -> list[str]:
    options = description["options"] + [o for tab in description["tabs"] for o in tab["options"]]
    return ([description["full_description"]] + description["ports"] + [o["description"] for o in options]
            + [tab["description"] for tab in description["tabs"]])


@pytest.mark.parametrize("name", sorted(NODES))
def test_descriptions_render_with_no_markdown_left_over(name: str) -> None:
    [node] = [n for n in registered() if n.name == name]
    for html_text in all_html(rendered(node.node_factory())):
        assert "```" not in html_text and "**" not in html_text
        assert not re.search(r"(^|<p>)\s*- ", html_text, re.MULTILINE), html_text  # a bullet left as text


@pytest.mark.parametrize("node_class, example", [(CreateChatCompletion, _CHAT_EXAMPLE),
                                                 (CreateCompletion, _COMPLETION_EXAMPLE)])
def test_the_template_example_is_a_code_block_and_the_sources_list_items(node_class: type, example: str) -> None:
    full = rendered(node_class())["full_description"]
    [block] = re.findall(r"<pre>(.*?)</pre>", full, re.DOTALL)
    assert html.unescape(block).strip() == example
    [sources, columns] = re.findall(r"<ul>(.*?)</ul>", full, re.DOTALL)
    assert re.findall(r"<li><b>(.*?)</b>", sources) == ["Simple", "JSON template", "Body column"]
    endpoint = node_class().endpoint
    for column, _ in result_columns(endpoint, ResultFormat.PARSED, with_warning=True):
        assert f"<i>{column}</i>" in columns, column  # every output column is explained


@pytest.mark.skipif(kh.IS_DOUBLE, reason="compares the double's renderer with KNIME's own")
def test_the_doubles_renderer_gives_knimes_html_for_our_descriptions() -> None:
    import importlib.util

    path = ROOT / "tests" / "knime_double" / "knime" / "extension" / "_markdown.py"
    spec = importlib.util.spec_from_file_location("knime_double_markdown", path)
    double = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(double)
    for node in registered():
        assert kh.describe(node.node_factory(), double.KnimeMarkdownParser()) == rendered(node.node_factory())


def test_pixi_toml_pins_only_what_exists_for_knime_5_5() -> None:
    tomllib = pytest.importorskip("tomllib")
    pixi = tomllib.loads((ROOT / "pixi.toml").read_text())
    assert pixi["workspace"]["channels"] == ["knime", "conda-forge"]
    deps = pixi["dependencies"]
    # knime-python-versions starts with 5.6; these three exist as 5.5.0 on the knime channel
    assert "knime-python-versions" not in deps
    assert (deps["knime-extension"], deps["knime-python-base"]) == ("5.5.*", "5.5.*")
    assert pixi["feature"]["build"]["dependencies"]["knime-extension-bundling"] == "5.5.*"
    assert "--knime-build" not in pixi["feature"]["build"]["tasks"]["build"]["cmd"]


def test_the_debug_config_names_this_extension() -> None:
    data = knime_yml()
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    assert list(config) == [f"{data['group_id']}.{data['name']}"]
    assert set(config[f"{data['group_id']}.{data['name']}"]) == {"src", "conda_env_path", "debug_mode"}
