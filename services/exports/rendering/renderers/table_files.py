"""Formats that hold one table per file (jsonl, parquet): one table is that file, several a zip."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain

from services.exports.rendering.renderers.csv_zip import file_names, render_zip
from services.exports.rendering.renderers.model import Report, Table


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
        (name, write(table)) for name, table in file_names(chain([first, second], tables), extension)
    )
