"""The start of a CSV file: UTF-8 text, byte-order mark, delimiter and header row."""

from __future__ import annotations

from pathlib import Path

import pytest

from knime_llm.errors import ConfigError, DataError
from knime_llm.tablefiles import open_input
from tests.tablefile_helpers import DATA, read, read_csv

# --- delimiter -------------------------------------------------------------------------------


def test_excel_file_with_bom_semicolons_crlf_and_decimal_commas() -> None:
    schema, cells = read(DATA / "excel_semicolon.csv")
    assert schema.names == ["id", "Produkt", "Preis", "Notiz"]  # no BOM in the first name
    assert cells["id"] == [1, 2, 3]
    assert cells["Produkt"] == ["Kaffee; gemahlen", "Tee", "Käse"]
    assert cells["Preis"] == ["4,99", "3,50", "12,00"]
    assert cells["Notiz"] == ['sagt "lecker"\r\nzweite Zeile', None, "NA"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    others = "".join(c for c in ",;|" if c != delimiter)
    # Quoted text full of the other candidates, and of the delimiter itself, must not mislead.
    quoted = '"' + (others + delimiter) * 5 + '"'
    lines = [delimiter.join(["id", "text", "n"])]
    lines += [delimiter.join([str(i), quoted, str(i * 2)]) for i in range(5)]
    schema, cells = read_csv(tmp_path, "\n".join(lines) + "\n")
    assert schema.names == ["id", "text", "n"]
    assert cells["text"][0] == (others + delimiter) * 5


def test_unquoted_decimal_commas_do_not_make_comma_the_delimiter(tmp_path: Path) -> None:
    schema, cells = read_csv(tmp_path, "name;price;note\napple;1,5;a, b, c\npear;2,25;x\n")
    assert schema.names == ["name", "price", "note"]
    assert cells["note"] == ["a, b, c", "x"]


def test_explicit_delimiter_wins(tmp_path: Path) -> None:
    schema, cells = read_csv(tmp_path, "a;b,c\n1;2,3\n", delimiter=";")
    assert schema.names == ["a", "b,c"] and cells["b,c"] == ["2,3"]
    with pytest.raises(ConfigError, match="single character"):
        read_csv(tmp_path, "a\n1\n", delimiter=";;")


def test_single_column_file_keeps_commas_in_its_text() -> None:
    schema, cells = read(DATA / "single_column.csv")
    assert schema.names == ["prompt"]
    assert cells["prompt"] == [
        "Write a haiku about autumn, leaves and rain",
        "What is 2+2? Answer briefly, please",
        "A quoted prompt, with a comma",
    ]


# --- header and text -------------------------------------------------------------------------


def test_duplicate_and_empty_header_names_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\['a'\] more than once"):
        read_csv(tmp_path, "a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match="column 2 of the header row has no name"):
        read_csv(tmp_path, "a,,c\n1,2,3\n")


def test_file_that_is_not_utf8_is_refused_with_advice() -> None:
    with pytest.raises(DataError, match=r"not UTF-8 text.*CSV UTF-8"):
        open_input(DATA / "cp1252.csv")


def test_empty_file_and_blank_first_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty; it needs a header row"):
        read_csv(tmp_path, "")
    with pytest.raises(DataError, match="blank line"):
        read_csv(tmp_path, "\na,b\n1,2\n")
