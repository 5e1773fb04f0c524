"""The start of a CSV file: its text, its delimiter and its header row.

:func:`read_sample` reads at least the whole header as UTF-8 text (without byte-order mark),
:func:`detect_delimiter` picks the delimiter from it, and :func:`read_header` takes the column
names. Quoted text is never taken for structure: a delimiter or line end inside quotes counts
for nothing.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..errors import DataError

#: Delimiters tried by :func:`detect_delimiter`, in order of preference on a tie.
CANDIDATES = (",", ";", "\t", "|")
#: Delimiter used for files whose header has no candidate: such a file has one column, and this
#: character (ASCII unit separator) does not occur in real text, so commas in cells stay text.
SINGLE_COLUMN_DELIMITER = "\x1f"

_QUOTED = re.compile(r'"[^"]*"')
_MAX_LINES = 1000
_BOM = b"\xef\xbb\xbf"
_SAMPLE_BYTES = 64 * 1024
_MAX_HEADER_BYTES = 16 * 1024 * 1024


def read_sample(path: Path) -> tuple[str, bool]:
    """Read the start of a CSV file as text: at least 64 KB, and at least the whole header.

    Returns:
        The text without byte-order mark, and whether it is the whole file.

    Raises:
        DataError: the file is empty or does not start as UTF-8 text.
    """
    with open(path, "rb") as stream:
        raw = stream.read(_SAMPLE_BYTES)
        while True:
            more = stream.read(_SAMPLE_BYTES)
            complete = not more
            raw += more
            if complete or len(raw) >= _MAX_HEADER_BYTES or header_complete(_decode(raw)):
                break
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Only a character cut off at the end of the sample is expected here.
        if complete or exc.start < len(raw) - 3:
            line = raw[: exc.start].count(b"\n") + 1
            raise DataError(
                f"CSV file {path} is not UTF-8 text (line {line}); save it as UTF-8 "
                "(in Excel: 'CSV UTF-8') or convert it"
            ) from None
        text = raw[: exc.start].decode("utf-8")
    if not text:
        raise DataError(f"CSV file {path} is empty; it needs a header row with the column names")
    return text, complete


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def read_header(path: Path, sample: str, delimiter: str) -> list[str]:
    """The column names from the first record of the sample.

    Raises:
        DataError: a name is empty or occurs twice.
    """
    try:
        names = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=False))
    except csv.Error as exc:  # a name longer than 128 KB: surely not a header
        raise DataError(f"CSV file {path}: the header row cannot be read ({exc})") from None
    if not names:
        raise DataError(f"CSV file {path} starts with a blank line; put the header row first")
    empty = [str(i + 1) for i, name in enumerate(names) if name == ""]
    if empty:
        raise DataError(
            f"CSV file {path}: column {', '.join(empty)} of the header row has no name; "
            "give every column a name in the first line"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise DataError(
            f"CSV file {path}: the header row has the column name(s) {twice} more than once; "
            "give every column a distinct name"
        )
    return names


def detect_delimiter(sample: str, complete: bool) -> str | None:
    """Pick the delimiter from the start of a CSV file.

    Quoted text is removed first, so delimiters inside quotes do not count. Among the candidates
    that occur in the header, the one that splits most of the following lines into as many fields
    as the header wins; ties go to the earlier candidate in :data:`CANDIDATES`.

    Args:
        sample: The start of the file as text, without a byte-order mark.
        complete: True when ``sample`` is the whole file, so its last line is not cut off.

    Returns:
        The delimiter, or None when the header has none of the candidates (one column).
    """
    lines = _unquoted_lines(sample, complete)
    if not lines:
        return None
    header, rest = lines[0], [line for line in lines[1:_MAX_LINES] if line.strip()]
    best: tuple[float, int] | None = None
    chosen = None
    for rank, candidate in enumerate(CANDIDATES):
        expected = header.count(candidate)
        if expected == 0:
            continue
        if rest:
            score = sum(line.count(candidate) == expected for line in rest) / len(rest)
        else:
            score = float(expected)
        key = (score, -rank)
        if best is None or key > best:
            best, chosen = key, candidate
    return chosen


def header_complete(sample: str) -> bool:
    """Tell whether the sample holds the whole header record (a line end outside quotes)."""
    return len(_unquoted_lines(sample, complete=False)) > 0


def _unquoted_lines(sample: str, complete: bool) -> list[str]:
    """Lines of the sample with quoted text removed; the cut-off last line is left out."""
    text = _QUOTED.sub("", sample)
    open_quote = text.find('"')
    if open_quote >= 0:
        # An unmatched quote opens a field that runs past the sample: nothing after it is known.
        text, complete = text[:open_quote], False
    lines = text.replace("\r", "").split("\n")
    if not complete or lines[-1] == "":
        lines.pop()
    return lines
