"""DOCX: the title, the fields, then each table with its header row repeated on every page.

python-docx builds the document (page, styles, headings, fields), but not the tables:
`table.add_row().cells` + `cell.text` measured about 340 rows/s (every call re-runs XPath
queries), and even plain lxml elements keep the whole tree in memory (170 MB for 20,000 rows)
and slowed down as it grew. So each table gets a marker where it goes, the small skeleton is
saved, and the final file is written entry by entry with each table streamed into
`word/document.xml` as WordprocessingML text: constant memory, linear time. A table's rows are
read only when its turn comes; its first rows size its columns (`docx_layout`): fixed widths by
content, so that words wrap at spaces instead of being split, in 8-point text.
The zip is written to a seekable temp file so every entry carries its sizes in its local header
(no data descriptors, no zip64), the most conservative layout for Word.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from io import BytesIO
from itertools import chain, islice
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.shared import Mm, Pt
from lxml import etree

from services.exports.rendering.renderers.cells import cell_to_text, printable_text
from services.exports.rendering.renderers.chunks import CHUNK_SIZE, file_chunks, scratch_file
from services.exports.rendering.renderers.docx_layout import column_widths
from services.exports.rendering.renderers.model import Cell, Report, Table

_DOCUMENT_PART = "word/document.xml"
_MARKER = re.compile(rb"<!--depot-table-(\d+)-->")
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# A4 landscape with half-inch margins, as the PDF: room for a dozen columns.
PAGE_WIDTH, PAGE_HEIGHT, MARGIN = Mm(297), Mm(210), Mm(12.7)
FONT = "Calibri"
TABLE_TEXT_SIZE, HEADER_TEXT_SIZE = 8.0, 7.0  # points; the header is bold, so about as wide
CELL_PADDING = 57  # twips (about 2.85 pt) left and right of a cell's text; Word's default is 108
_SLACK = 30  # twips per column for borders and rounding
SAMPLE_ROWS = 100  # rows read ahead to size the columns
_TABLE_TEXT_STYLE = "Depot Table Text"
_CELL_START = '<w:tc><w:p><w:pPr><w:pStyle w:val="DepotTableText"/></w:pPr>'
_EMPTY_CELL = _CELL_START + "</w:p></w:tc>"


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
    _page(document)
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
            document.element.body[-2].addnext(etree.Comment(f"depot-table-{index}"))  # before sectPr
        else:
            document.add_paragraph("(no columns)")
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


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
    """The skeleton's document.xml with each table's marker replaced by the table."""
    position = 0
    for marker in _MARKER.finditer(skeleton_xml):
        yield skeleton_xml[position : marker.start()]
        yield from _table_chunks(tables[int(marker.group(1))])
        position = marker.end()
    yield skeleton_xml[position:]


def _table_chunks(table: Table) -> Iterator[bytes]:
    rows = iter(table.rows)
    sample = list(islice(rows, SAMPLE_ROWS))
    widths = _grid(table.columns, sample)
    grid = "".join(f'<w:gridCol w:w="{width}"/>' for width in widths)
    yield (
        '<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/>'
        f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/><w:tblLayout w:type="fixed"/>'
        f'<w:tblCellMar><w:left w:w="{CELL_PADDING}" w:type="dxa"/>'
        f'<w:right w:w="{CELL_PADDING}" w:type="dxa"/></w:tblCellMar>'
        '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0"'
        ' w:noHBand="0" w:noVBand="1"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>"
        # The header row repeats on each page and is never split across two.
        "<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>"
        + "".join(
            _header_cell_xml(column, width) for column, width in zip(table.columns, widths, strict=True)
        )
        + "</w:tr>"
    ).encode()
    yield from _row_chunks(chain(sample, rows), len(table.columns))
    yield b"</w:tbl>"


def _grid(columns: list[str], sample: list[Sequence[Cell]]) -> list[int]:
    """Column widths in twips (1/20 point) that fill the text area of the page."""
    available = (PAGE_WIDTH - 2 * MARGIN) / 635  # EMU → twips
    padding = 2 * CELL_PADDING + _SLACK
    texts = [[printable_text(cell_to_text(cell)) for cell in row] for row in sample]
    widths = column_widths(
        [printable_text(column) for column in columns],
        texts,
        available=available / 20,
        size=TABLE_TEXT_SIZE,
        header_size=HEADER_TEXT_SIZE,
        padding=padding / 20,
    )
    return [int(width * 20) for width in widths]


def _header_cell_xml(column: str, width: int) -> str:
    size = f'<w:sz w:val="{int(HEADER_TEXT_SIZE * 2)}"/>'  # in half-points
    runs = _runs(printable_text(column)).replace("<w:r>", f"<w:r><w:rPr><w:b/>{size}</w:rPr>")
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>'
        f'<w:p><w:pPr><w:pStyle w:val="DepotTableText"/></w:pPr>{runs}</w:p></w:tc>'
    )


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
        return f"{_CELL_START}<w:r>{_t(text)}</w:r></w:p></w:tc>"
    return f"{_CELL_START}{_runs(printable_text(text))}</w:p></w:tc>"


def _runs(text: str) -> str:
    """One run of (printable) text: its line breaks as <w:br/>, its tabs as <w:tab/>."""
    if not text:
        return ""
    parts = []
    for line_number, line in enumerate(text.split("\n")):
        if line_number:
            parts.append("<w:br/>")
        for part_number, part in enumerate(line.split("\t")):
            if part_number:
                parts.append("<w:tab/>")
            if part:
                parts.append(_t(part))
    return f"<w:r>{''.join(parts)}</w:r>"


def _t(text: str) -> str:
    escaped = text.translate(_XML_ESCAPES)
    if text[0].isspace() or text[-1].isspace():  # Word drops edge spaces unless told to keep them
        return f'<w:t xml:space="preserve">{escaped}</w:t>'
    return f"<w:t>{escaped}</w:t>"


def _page(document: DocumentObject) -> None:
    # Export tables are wide: a landscape page, narrow margins, and a small style for table text.
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = MARGIN
    # Named, not left to the theme: a reader without the theme's font then substitutes a sans
    # (LibreOffice: Carlito, else DejaVu Sans, whose widths the columns are sized for), not a serif.
    document.styles["Normal"].font.name = FONT
    style = document.styles.add_style(_TABLE_TEXT_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    style.font.size = Pt(TABLE_TEXT_SIZE)
    style.paragraph_format.space_before = style.paragraph_format.space_after = Pt(0)
    style.paragraph_format.line_spacing = 1.0
