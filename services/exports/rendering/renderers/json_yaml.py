"""JSON and YAML: `{title, fields, <table name>: [{column: value}, ...], ...}`, written row by row.

Both are assembled from pieces rather than dumped whole: one `yaml.dump` of 100,000 rows took
617 MB. Even batched, the C dumper spends most of its time in PyYAML's Python representer
(8,700 rows/s here), so rows are written directly: plain scalars where that is unambiguous,
JSON strings (valid YAML double-quoted scalars) for other text, and the C dumper for the rare
value neither covers. A test loads the result back with yaml.safe_load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import yaml

from services.exports.rendering.renderers.cells import json_value, rfc3339
from services.exports.rendering.renderers.chunks import byte_chunks
from services.exports.rendering.renderers.model import Cell, Report, Table

# orjson writes a UTC datetime in the one form of cells.rfc3339 (and 3x faster) unless its
# fraction is zero, which it drops: only such a row passes its times through cells.rfc3339.
_ORJSON_NATIVE = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
_ORJSON_OWN_TIMES = orjson.OPT_PASSTHROUGH_DATETIME
_RESERVED_KEYS = frozenset({"title", "fields"})
# Plain (unquoted) YAML scalars only where no YAML 1.1 reader can take them for anything but
# the same string: a letter first, no indicator characters, no ": " or " #", no edge spaces.
_YAML_PLAIN = re.compile(r"[A-Za-z](?:[A-Za-z0-9 _.,;()/+=?!'-]*[A-Za-z0-9_.,;()/+=?!'-])?")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
# Raw characters JSON leaves alone but YAML forbids or reads as line breaks.
_YAML_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_NO_FOLDING = 1 << 30


def render_json(report: Report) -> Iterator[bytes]:
    """Stream the report as one JSON object."""
    return byte_chunks(_json_pieces(report))


def render_yaml(report: Report) -> Iterator[bytes]:
    """Stream the report as one YAML mapping with the same structure as the JSON."""
    return byte_chunks(_yaml_pieces(report))


def _json_pieces(report: Report) -> Iterator[bytes]:
    fields = {key: value for key, value in report.fields}
    yield b'{"title":' + orjson.dumps(report.title) + b',"fields":' + _dumps(fields)
    for table in report.tables:
        yield b"," + orjson.dumps(_table_key(table)) + b":["
        separator = b""
        columns = table.columns
        for row in table.rows:
            record = dict(zip(columns, row, strict=True))
            native = True
            for cell in row:
                if type(cell) is datetime and (cell.microsecond == 0 or cell.tzinfo not in (None, UTC)):
                    native = False
                    break
            yield separator + (orjson.dumps(record, option=_ORJSON_NATIVE) if native else _dumps(record))
            separator = b","
        yield b"]"
    yield b"}\n"


def _yaml_pieces(report: Report) -> Iterator[bytes]:
    head = {"title": report.title, "fields": {key: json_value(value) for key, value in report.fields}}
    yield _yaml_dump(head)
    for table in report.tables:
        key = _yaml_scalar(_table_key(table))
        prefixes = [
            ("  " if index else "- ").encode() + _yaml_scalar(column) + b": "
            for index, column in enumerate(table.columns)
        ]
        empty = True
        for row in table.rows:
            if empty:
                yield key + b":\n"
                empty = False
            parts: list[bytes] = []
            for prefix, cell in zip(prefixes, row, strict=True):
                parts += (prefix, _yaml_scalar(cell), b"\n")
            yield b"".join(parts)
        if empty:
            yield key + b": []\n"


def _yaml_scalar(cell: Cell) -> bytes:
    """One scalar as YAML, for the common cases without a trip through the dumper."""
    kind = type(cell)
    if kind is str:
        text: str = cell  # type: ignore[assignment]
        if _YAML_PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
            return text.encode()
        if not _YAML_UNSAFE_IN_JSON.search(text):
            return orjson.dumps(text)  # a JSON string is a valid YAML double-quoted scalar
    elif kind is int:
        return str(cell).encode()
    elif cell is None:
        return b"null"
    elif kind is bool:
        return b"true" if cell else b"false"
    elif kind is float:
        text = repr(cell)
        if "." in text and "e" not in text:  # what YAML 1.1 reads back as a float
            return text.encode()
    elif isinstance(cell, datetime):
        return orjson.dumps(rfc3339(cell))
    # The rest (exponents, inf/nan, characters YAML forbids raw, objects) goes through the real
    # dumper: text forced into one double-quoted line, objects into one flow-style line, so that
    # the first line is the whole value.
    value = json_value(cell)
    dumped: bytes = yaml.dump(
        value,
        Dumper=yaml.CSafeDumper,
        allow_unicode=True,
        default_style='"' if isinstance(value, str) else None,
        default_flow_style=True,
        sort_keys=False,
        width=_NO_FOLDING,
        encoding="utf-8",
    )
    return dumped.split(b"\n", 1)[0]


def _yaml_dump(data: object) -> bytes:
    # A top-level list dumps as "- a: 1\n  b: 2\n", which is valid right under "key:\n".
    dumped: bytes = yaml.dump(
        data,
        Dumper=yaml.CSafeDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        encoding="utf-8",
    )
    return dumped


def _dumps(value: object) -> bytes:
    return orjson.dumps(value, default=_json_default, option=_ORJSON_OWN_TIMES)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return rfc3339(value)
    raise TypeError(f"a report cell cannot be a {type(value).__name__}")


def _table_key(table: Table) -> str:
    if table.name in _RESERVED_KEYS:
        raise ValueError(f"a table cannot be named {table.name!r}: that key holds the report's {table.name}")
    return table.name
