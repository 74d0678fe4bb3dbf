"""Markdown (GitHub tables) and plain text (one block per record), both streamed row by row.

Markdown is rendered by whoever opens it (a forge, an editor's preview, a docs site), so every
piece of text from a source is escaped before it lands there: `&`, `<` and `>` as entities (no
raw HTML such as `<script>` or `<img onerror=…>` reaches the renderer, and entities in the data
stay literal), and the characters that make markdown structure (emphasis, code, links, table
pipes, headings, list and quote markers at the start of a line) with backslashes. What renders
is the text itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from services.exports.rendering.renderers.cells import cell_to_text
from services.exports.rendering.renderers.chunks import text_chunks
from services.exports.rendering.renderers.model import Cell, Report, Table


def render_markdown(report: Report) -> Iterator[bytes]:
    """Stream the report as Markdown: a title, fields as a list, each table as a GitHub table."""
    return text_chunks(_markdown_pieces(report))


def render_text(report: Report) -> Iterator[bytes]:
    """Stream the report as plain text: fields, then each table one record per block."""
    return text_chunks(_text_pieces(report))


# Escaped wherever text lands: backslash first, so an escape in the data cannot escape ours;
# `_` only at a word's edge (inside a word it never makes emphasis, and identifiers stay legible).
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]|~#&<>]|(?<!\w)_|_(?!\w)")
_MAYBE_SPECIAL = re.compile(r"[\\`*\[\]|~#&<>_]")  # a quick first look: most text has none
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# What opens a block at the start of a line (a list, a heading underline, an ordered item).
_BLOCK_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")


def _markdown_text(text: str) -> str:
    """Text that renders as itself inside a markdown line."""
    if _MAYBE_SPECIAL.search(text) is None:
        return text
    return _MARKDOWN_SPECIAL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ENTITIES.get(char) or "\\" + char


def _markdown_lines(text: str) -> str:
    """Multi-line text for a list item: escaped, each continuation line indented and unable to open a block."""
    lines = _markdown_text(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n  ".join([lines[0], *(_BLOCK_START.sub(_escape_block_start, line) for line in lines[1:])])


def _escape_block_start(match: re.Match[str]) -> str:
    marker = match.group(2)
    return match.group(1) + (marker[:-1] + "\\" + marker[-1] if marker[0].isdigit() else "\\" + marker)


def _markdown_pieces(report: Report) -> Iterator[str]:
    yield f"# {_markdown_text(_one_line(report.title))}\n"
    if report.fields:
        yield "\n"
        for key, value in report.fields:
            # Continuation lines indented by two spaces stay inside the list item.
            yield f"- **{_markdown_text(_one_line(key))}**: {_markdown_lines(cell_to_text(value))}\n"
    for table in report.tables:
        yield from _markdown_table(table)


def _markdown_table(table: Table) -> Iterator[str]:
    yield f"\n## {_markdown_text(_one_line(table.name))}\n\n"
    yield _markdown_row(table.columns)
    yield "|" + " --- |" * len(table.columns) + "\n"
    for row in table.rows:
        yield _markdown_row(row)


def _markdown_row(cells: Iterable[Cell]) -> str:
    return "| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |\n"


def _markdown_cell(cell: Cell) -> str:
    text = _markdown_text(cell_to_text(cell))
    if "\n" in text or "\r" in text:  # a cell is one line: its line breaks are our own <br>
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
