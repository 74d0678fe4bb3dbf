"""Markdown (GitHub tables) and plain text (one block per record), both streamed row by row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from services.exports.renderers.cells import cell_to_text
from services.exports.renderers.chunks import text_chunks
from services.exports.renderers.model import Cell, Report, Table


def render_markdown(report: Report) -> Iterator[bytes]:
    """Stream the report as Markdown: a title, fields as a list, each table as a GitHub table."""
    return text_chunks(_markdown_pieces(report))


def render_text(report: Report) -> Iterator[bytes]:
    """Stream the report as plain text: fields, then each table one record per block."""
    return text_chunks(_text_pieces(report))


def _markdown_pieces(report: Report) -> Iterator[str]:
    yield f"# {_one_line(report.title)}\n"
    if report.fields:
        yield "\n"
        for key, value in report.fields:
            # Continuation lines indented by two spaces stay inside the list item.
            text = cell_to_text(value).replace("\r\n", "\n").replace("\n", "\n  ")
            yield f"- **{_one_line(key)}**: {text}\n"
    for table in report.tables:
        yield from _markdown_table(table)


def _markdown_table(table: Table) -> Iterator[str]:
    yield f"\n## {_one_line(table.name)}\n\n"
    yield _markdown_row(table.columns)
    yield "|" + " --- |" * len(table.columns) + "\n"
    for row in table.rows:
        yield _markdown_row(row)


def _markdown_row(cells: Iterable[Cell]) -> str:
    return "| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |\n"


def _markdown_cell(cell: Cell) -> str:
    text = cell_to_text(cell)
    if "\\" in text:
        text = text.replace("\\", "\\\\")  # so a trailing backslash cannot escape the next pipe
    if "|" in text:
        text = text.replace("|", "\\|")
    if "\n" in text or "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text_pieces(report: Report) -> Iterator[str]:
    title = _one_line(report.title)
    yield f"{title}\n{'=' * len(title)}\n"
    if report.fields:
        yield "\n"
        yield from _record([key for key, _ in report.fields], [value for _, value in report.fields])
    for table in report.tables:
        yield f"\n{table.name}\n{'-' * len(table.name)}\n"
        empty = True
        for row in table.rows:
            yield "\n"
            yield from _record(table.columns, row)
            empty = False
        if empty:
            yield "\n(no rows)\n"


def _record(keys: Sequence[str], values: Sequence[Cell]) -> Iterator[str]:
    """`key  value` lines with the values aligned; multi-line values stay under their column."""
    width = max((len(key) for key in keys), default=0) + 2
    indent = "\n" + " " * width
    for key, value in zip(keys, values, strict=True):
        text = cell_to_text(value).replace("\r\n", "\n").replace("\r", "\n")
        yield f"{key.ljust(width)}{text.replace(chr(10), indent)}\n" if text else f"{key}\n"
