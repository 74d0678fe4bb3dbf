"""How a cell becomes text, in one place, so every format writes the same value the same way.

One representation per type in every format: times are RFC 3339 in UTC with six fraction digits
(`2026-12-04T12:03:40.637233Z`), booleans `true`/`false`, numbers as numbers, and JSON objects
(a version's explanation) as objects where the format has them, else as their compact JSON text.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import orjson

from services.exports.rendering.renderers.model import Cell, CsvMode

# OWASP "CSV injection": spreadsheets evaluate a cell that starts with one of these.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# The one rule for control characters in documents (xlsx, docx, pdf): C0 controls other than tab
# and newline, DEL, C1 controls, lone surrogates and the non-characters U+FFFE/U+FFFF are dropped.
# XML 1.0 cannot carry most of them (a raw U+0001 makes an xlsx unopenable) and no font draws any.
# Line ends (CR, CRLF and NEL, U+0085) become newlines, so text keeps its lines.
_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_ENDS = re.compile("\r\n?|\x85")


def neutralise_formula(text: str, mark: str = "'") -> str:
    """Prefix `mark` (a quote) to text a spreadsheet would run as a formula."""
    return mark + text if text.startswith(FORMULA_TRIGGERS) else text


def rfc3339(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds and `Z`; a naive datetime is taken to be UTC (as stored)."""
    text = value.isoformat(timespec="microseconds")
    if value.tzinfo is None:
        return text + "Z"
    if text.endswith("+00:00"):  # the common case: times come from the database in UTC
        return text[:-6] + "Z"
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def json_text(value: dict[str, object] | list[object]) -> str:
    """The compact JSON text of an object or a list (what a csv or xlsx cell shows of it)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the standard library writes it
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def cell_to_text(cell: Cell) -> str:
    """The human-readable text of a cell: empty for None, true/false, RFC 3339 times, JSON objects."""
    kind = type(cell)
    if kind is str:
        return cell  # type: ignore[return-value]
    if cell is None:
        return ""
    if kind is bool:
        return "true" if cell else "false"
    if isinstance(cell, datetime):
        return rfc3339(cell)
    if kind is float:
        return repr(cell)  # shortest text that reads back as the same float
    if isinstance(cell, dict | list):
        return json_text(cell)
    return str(cell)


def spreadsheet_text(cell: Cell, mode: CsvMode) -> str:
    """The text of a csv cell or header: formulas neutralised in safe mode; numbers are never touched."""
    if mode == "safe" and isinstance(cell, str):
        return neutralise_formula(cell)
    return cell_to_text(cell)


def json_value(cell: Cell) -> Cell:
    """A JSON/YAML-native value: times as RFC 3339 strings, everything else as it is."""
    if isinstance(cell, datetime):
        return rfc3339(cell)
    return cell


def printable_text(text: str) -> str:
    """Text under the one control-character rule of documents: line ends as LF, controls dropped."""
    if "\r" in text or "\x85" in text:
        text = _LINE_ENDS.sub("\n", text)
    if _NOT_PRINTABLE.search(text):
        text = _NOT_PRINTABLE.sub("", text)
    return text
