"""Test double of ``knime.extension._markdown``: node, option, tab and port descriptions as KNIME
renders them from Markdown to the HTML of its node description.

KNIME (knime-python 5.5) runs the ``markdown`` package (3.8) with ``sane_lists`` and
``fenced_code`` (plus ``tables`` for the full description) and then bends the HTML into what its
description viewer shows: raw HTML, images and autolinks are not recognised; emphasis is matched
early (``2 * 3 * 4`` gets an italic `` 3 ``); bold and italic become ``<b>``/``<i>`` with the
text of anything nested merged in (and, a quirk kept, every second nested element left after it); text is HTML-escaped (quotes
included) while code is not escaped twice; ``<pre><code>`` becomes ``<pre>`` and inline
``<code>`` becomes ``<tt>``; headings are pushed down to ``h3``/``h4`` in a node's description and
dropped elsewhere; table headers become bold cells; blockquotes, and per kind of text paragraphs,
rules and ``<pre>``, are dropped.

Our own implementation of that behaviour; ``tests/test_knime_double.py`` checks that it renders
the same HTML as KNIME's module for every description of our nodes and a set of samples.
"""

from __future__ import annotations

import html
import re
from typing import Any, Dict, List, Sequence, Tuple
from xml.etree.ElementTree import Element

import markdown
from markdown.extensions import Extension
from markdown.inlinepatterns import AsteriskProcessor, UnderscoreProcessor
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

_NO_DESCRIPTION = "<i>No description available.</i>"
_HEADING = re.compile(r"#{1,6} ")
_SETEXT_UNDERLINE = re.compile(r"^(==+|--+)$")

# (pattern, replacement) rules applied to the finished HTML, by name.
_RULES: Dict[str, List[Tuple[str, str]]] = {
    "blockquote": [(r"</?blockquote>", "")],
    "paragraph": [(r"</?p>", "")],
    "rule": [(r"<hr.*>", "")],
    "pre": [(r"<pre>", "<tt>"), (r"</pre>", "</tt>")],
    "table": [(r"</?tbody>", ""), (r"</?thead>", ""), (r"<th>", "<td><b>"), (r"</th>", "</b></td>")],
    "header": [(r"<h1>", "<h3>"), (r"</h1>", "</h3>"), (r"<h2>", "<h4>"), (r"</h2>", "</h4>")],
}
_PRE_BLOCK = re.compile(r"<pre>(.|\n)*?<code>(.|\n)*?</code>(.|\n)*?</pre>")


class _Rules(Postprocessor):
    def __init__(self, md: Any, names: Sequence[str]) -> None:
        super().__init__(md)
        self._rules = [(re.compile(p), r) for name in names for p, r in _RULES[name]]

    def run(self, text: str) -> str:
        for pattern, replacement in self._rules:
            text = pattern.sub(replacement, text)
        return text


class _CodeAsTeletype(Postprocessor):
    """``<pre><code>`` blocks lose their ``<code>``; inline ``<code>`` becomes ``<tt>``."""

    def run(self, text: str) -> str:
        text = _PRE_BLOCK.sub(lambda m: m.group(0).replace("<code>", "").replace("</code>", ""), text)
        return text.replace("<code>", "<tt>").replace("</code>", "</tt>")


class _DemoteHeadings(Preprocessor):
    """``#``-``###`` headings become ``###``; deeper ones lose their space (so stay text)."""

    def run(self, lines: List[str]) -> List[str]:
        out = []
        for line in lines:
            if re.search(r"#{4,} ", line):
                line = re.sub(r"#+ ", "####", line)
            elif re.search(r"#{1,3} ", line):
                line = re.sub(r"#+ ", "###", line)
            out.append(line)
        return out


class _DropHeadings(Preprocessor):
    """Heading marks are removed; a ``---``/``===`` line under text (a heading) is dropped."""

    def run(self, lines: List[str]) -> List[str]:
        out = []
        for index, line in enumerate(lines):
            above = lines[index - 1] if index else ""
            if _HEADING.search(line):
                line = re.sub(r"#+ ", "", line)
            elif above != "" and _SETEXT_UNDERLINE.search(line):
                continue
            out.append(line)
        return out


def _text_of_children(element: Element) -> str:
    parts: List[str] = []
    for child in element:
        parts += [child.text or "", _text_of_children(child), child.tail or ""]
    return "".join(parts)


class _KnimeTree(Treeprocessor):
    """Escape text (not code), and turn emphasis into flat ``<b>``/``<i>``."""

    _EMPHASIS = {"strong": "b", "em": "i"}

    def run(self, root: Element) -> None:
        self._visit(root)

    def _visit(self, element: Element) -> None:
        in_code = element.tag in ("code", "pre")
        for attribute in ("text", "tail"):
            value = getattr(element, attribute)
            if value is not None:
                setattr(element, attribute, html.unescape(value) if in_code else html.escape(value))
        if element.tag in self._EMPHASIS:
            element.tag = self._EMPHASIS[element.tag]
        if element.tag in ("b", "i"):
            merged = (element.text or "") + _text_of_children(element)
            element.text = merged or None
            # KNIME removes the nested elements while iterating over them, which drops the 1st,
            # 3rd, ... and keeps the others after their text: the double does the same.
            for child in list(element)[::2]:
                element.remove(child)
            return
        for child in element:
            self._visit(child)


class _KnimeDescription(Extension):
    """One kind of description: which headings survive and which rules clean the HTML."""

    def __init__(self, headings: str, early: Sequence[str], late: Sequence[str], last: Sequence[str]) -> None:
        super().__init__()
        self._headings, self._early, self._late, self._last = headings, early, late, last

    def extendMarkdown(self, md: Any) -> None:  # noqa: N802 (markdown's API)
        md.preprocessors.deregister("html_block")
        for name in ("image_reference", "image_link", "short_image_ref", "autolink", "automail", "html"):
            md.inlinePatterns.deregister(name)
        # Emphasis is matched before "not_strong" and line breaks, so "2 * 3 * 4" is italic too.
        md.inlinePatterns.register(AsteriskProcessor(r"\*"), "em_strong", 110)
        md.inlinePatterns.register(UnderscoreProcessor(r"_"), "em_strong2", 100)
        heading = _DemoteHeadings(md) if self._headings == "demote" else _DropHeadings(md)
        md.preprocessors.register(heading, "knime_headings", 100)
        md.treeprocessors.register(_KnimeTree(md), "knime_tree", 0)
        md.postprocessors.register(_Rules(md, self._early), "knime_early", 200)  # before stashed HTML returns
        md.postprocessors.register(_Rules(md, self._late), "knime_late", 50)
        md.postprocessors.register(_CodeAsTeletype(md), "knime_code", 10)
        md.postprocessors.register(_Rules(md, self._last), "knime_last", 5)


def _parser(description: _KnimeDescription, tables: bool = False) -> markdown.Markdown:
    extensions: List[Any] = [description, "sane_lists", "fenced_code"] + (["tables"] if tables else [])
    return markdown.Markdown(extensions=extensions, output_format="xhtml")


def _dedent(doc: str) -> str:
    """PEP 257 trimming: the first line stripped, the rest shorn of their common indentation."""
    lines = doc.expandtabs().splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    indent = min(indents) if indents else None
    kept = [lines[0].strip()] + ([line[indent:].rstrip() for line in lines[1:]] if indent is not None else [])
    while kept and not kept[-1]:
        kept.pop()
    while kept and not kept[0]:
        kept.pop(0)
    return "\n".join(kept)


class KnimeMarkdownParser:
    """Renders the texts of a node's description the way KNIME does (one parser per kind)."""

    def __init__(self) -> None:
        full = _KnimeDescription("demote", ["table", "header"], ["blockquote"], [])
        self.md = _parser(full, tables=True)
        self.md_basic = _parser(_KnimeDescription("demote", ["table", "header"], ["blockquote"], []))
        self.md_options = _parser(_KnimeDescription("drop", ["table", "header"], ["rule", "blockquote"], []))
        self.md_tabs = _parser(_KnimeDescription("drop", [], ["rule", "paragraph", "blockquote"], ["pre"]))
        self.md_ports = _parser(_KnimeDescription("drop", ["table", "header"], ["blockquote"], []))

    def _convert(self, parser: markdown.Markdown, doc: str) -> str:
        # Like KNIME, one parser serves every text without a reset in between.
        return parser.convert(_dedent(doc))

    def parse_full_description(self, doc: str) -> str:
        """A node's description after its first line."""
        return self._convert(self.md, doc)

    def parse_basic(self, doc: str) -> str:
        """A short text without tables."""
        return self._convert(self.md_basic, doc) if doc else _NO_DESCRIPTION

    def parse_option_description(self, doc: str) -> str:
        """A parameter's description."""
        return self._convert(self.md_options, doc) if doc else _NO_DESCRIPTION

    def parse_port_description(self, doc: str) -> str:
        """A port's description."""
        return self._convert(self.md_ports, doc) if doc else _NO_DESCRIPTION

    def parse_tab_description(self, doc: str) -> str:
        """A tab's (top-level parameter group's) description."""
        return self._convert(self.md_tabs, doc) if doc else ""

    def parse_options(self, options: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Options as ``{"name", "description"}`` with rendered descriptions."""
        return [{"name": o["name"], "description": self.parse_option_description(o["description"])}
                for o in options]

    def parse_tabs(self, tabs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Tabs with rendered descriptions and options."""
        return [{"name": t["name"], "description": self.parse_tab_description(t["description"]),
                 "options": self.parse_options(t["options"])} for t in tabs]

