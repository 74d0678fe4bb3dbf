"""How a cell becomes text, in one place, so every format writes the same value the same way."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from services.exports.renderers.model import Cell, CsvMode

# OWASP "CSV injection": spreadsheets evaluate a cell that starts with one of these.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# C0 controls other than tab, newline and carriage return are not allowed in XML (docx, xlsx)
# and have no glyph in a PDF; U+FFFE/U+FFFF are non-characters.
_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def neutralise_formula(text: str) -> str:
    """Prefix a single quote to text a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def rfc3339(value: datetime) -> str:
    """RFC 3339 with an offset; a naive datetime is taken to be UTC (the database stores UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def cell_to_text(cell: Cell) -> str:
    """The human-readable text of a cell: empty for None, true/false, RFC 3339 times."""
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
    return str(cell)


def spreadsheet_text(cell: Cell, mode: CsvMode) -> str:
    """The text of a csv cell: formulas neutralised in safe mode; numbers are never touched."""
    if mode == "safe" and isinstance(cell, str):
        return neutralise_formula(cell)
    return cell_to_text(cell)


def json_value(cell: Cell) -> str | int | float | bool | None:
    """A JSON/YAML-native value: times as RFC 3339 strings, everything else as it is."""
    if isinstance(cell, datetime):
        return rfc3339(cell)
    return cell


def printable_text(text: str) -> str:
    """Text without the control characters XML and PDF cannot carry; CRLF and CR become LF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _NOT_PRINTABLE.search(text):
        text = _NOT_PRINTABLE.sub("", text)
    return text
