"""DOCX: the title, the fields, then each table with its header row repeated on every page.

python-docx builds the document (styles, headings, fields, each table with its header row),
but not the body rows: `table.add_row().cells` + `cell.text` measured about 340 rows/s (every
call re-runs XPath queries), and even plain lxml elements keep the whole tree in memory (170 MB
for 20,000 rows) and slowed down as it grew. So each table gets a marker where its rows go, the
small skeleton is saved, and the final file is written entry by entry with the rows streamed
into `word/document.xml` as WordprocessingML text: constant memory, linear time.
The zip is written to a seekable temp file so every entry carries its sizes in its local header
(no data descriptors, no zip64), the most conservative layout for Word.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from io import BytesIO
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from lxml import etree

from services.exports.renderers.cells import cell_to_text, printable_text
from services.exports.renderers.chunks import CHUNK_SIZE, file_chunks, scratch_file
from services.exports.renderers.model import Cell, Report, Table

_DOCUMENT_PART = "word/document.xml"
_MARKER = re.compile(rb"<!--depot-rows-(\d+)-->")
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_EMPTY_CELL = "<w:tc><w:p/></w:tc>"


def render_docx(report: Report) -> Iterator[bytes]:
    """Render the report as a Word document and stream the finished file in chunks."""
    # Table objects are taken up front for the skeleton; their rows are read only later.
    tables = list(report.tables)
    skeleton = _skeleton(report, tables)
    with scratch_file(".docx") as path:
        _write_with_rows(skeleton, tables, path)
        yield from file_chunks(path)


def _skeleton(report: Report, tables: list[Table]) -> bytes:
    document = Document()
    _landscape(document)
    title = printable_text(report.title)
    document.core_properties.title = title
    document.add_heading(title, level=0)
    for key, value in report.fields:
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{printable_text(key)}: ").bold = True
        paragraph.add_run(printable_text(cell_to_text(value)))  # a run turns \n into breaks, \t into tabs
    for index, table in enumerate(tables):
        document.add_heading(printable_text(table.name), level=1)
        if table.columns:
            _add_table_head(document, table.columns, marker=f"depot-rows-{index}")
        else:
            document.add_paragraph("(no columns)")
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _add_table_head(document: DocumentObject, columns: list[str], marker: str) -> None:
    grid = document.add_table(rows=1, cols=len(columns))
    grid.style = "Table Grid"
    header = grid.rows[0]
    for cell, column in zip(header.cells, columns, strict=True):
        cell.paragraphs[0].add_run(printable_text(column)).bold = True
    header._tr.get_or_add_trPr().append(etree.Element(qn("w:tblHeader")))  # repeat on each page
    header._tr.addnext(etree.Comment(marker))  # where the body rows go


def _write_with_rows(skeleton: bytes, tables: list[Table], path: Path) -> None:
    with zipfile.ZipFile(BytesIO(skeleton)) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            if info.filename != _DOCUMENT_PART:
                target.writestr(info, source.read(info))
                continue
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with target.open(entry, "w") as document_xml:
                for piece in _document_xml(source.read(info), tables):
                    document_xml.write(piece)


def _document_xml(skeleton_xml: bytes, tables: list[Table]) -> Iterator[bytes]:
    """The skeleton's document.xml with each table's marker replaced by its rows."""
    position = 0
    for marker in _MARKER.finditer(skeleton_xml):
        yield skeleton_xml[position : marker.start()]
        table = tables[int(marker.group(1))]
        yield from _row_chunks(table.rows, len(table.columns))
        position = marker.end()
    yield skeleton_xml[position:]


def _row_chunks(rows: Iterable[Sequence[Cell]], width: int) -> Iterator[bytes]:
    buffer: list[str] = []
    buffered = 0
    empty = True
    for row in rows:
        if len(row) != width:
            raise ValueError(f"a row has {len(row)} cells but the table has {width} columns")
        xml = "<w:tr>" + "".join([_cell_xml(cell) for cell in row]) + "</w:tr>"
        buffer.append(xml)
        buffered += len(xml)
        empty = False
        if buffered >= CHUNK_SIZE:
            yield "".join(buffer).encode()
            buffer.clear()
            buffered = 0
    if empty:
        buffer.append("<w:tr>" + _cell_xml("(no rows)") + _EMPTY_CELL * (width - 1) + "</w:tr>")
    yield "".join(buffer).encode()


def _cell_xml(cell: Cell) -> str:
    text = cell_to_text(cell)
    if not text:
        return _EMPTY_CELL
    if text.isascii() and text.isprintable():  # the common case: a single <w:t>
        return f"<w:tc><w:p><w:r>{_t(text)}</w:r></w:p></w:tc>"
    runs = []
    for line_number, line in enumerate(printable_text(text).split("\n")):
        if line_number:
            runs.append("<w:br/>")
        for part_number, part in enumerate(line.split("\t")):
            if part_number:
                runs.append("<w:tab/>")
            if part:
                runs.append(_t(part))
    return f"<w:tc><w:p><w:r>{''.join(runs)}</w:r></w:p></w:tc>"


def _t(text: str) -> str:
    escaped = text.translate(_XML_ESCAPES)
    if text[0].isspace() or text[-1].isspace():  # Word drops edge spaces unless told to keep them
        return f'<w:t xml:space="preserve">{escaped}</w:t>'
    return f"<w:t>{escaped}</w:t>"


def _landscape(document: DocumentObject) -> None:
    # Export tables are wide; python-docx sizes a new table's columns to the page width.
    section = document.sections[0]
    if section.orientation != WD_ORIENT.LANDSCAPE:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
