"""Formats that hold one table per file (jsonl, parquet): one table is that file, several a zip."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain

from services.exports.rendering.renderers.csv_zip import render_zip
from services.exports.rendering.renderers.model import Report, Table

_UNSAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def one_file_per_table(
    report: Report, extension: str, write: Callable[[Table], Iterator[bytes]]
) -> Iterator[bytes]:
    """`write(table)` of the report's only table, or a zip of `<table name>.<extension>` files."""
    tables = iter(report.tables)
    first = next(tables, None)
    if first is None:
        return iter(())
    second = next(tables, None)
    if second is None:
        return write(first)
    return render_zip(
        (name, write(table)) for name, table in _file_names(chain([first, second], tables), extension)
    )


def _file_names(tables: Iterable[Table], extension: str) -> Iterator[tuple[str, Table]]:
    used: set[str] = set()
    for table in tables:
        stem = _UNSAFE_FILE_NAME.sub("_", table.name).strip("._") or "table"
        name, counter = f"{stem}.{extension}", 1
        while name.lower() in used:
            counter += 1
            name = f"{stem}-{counter}.{extension}"
        used.add(name.lower())
        yield name, table
