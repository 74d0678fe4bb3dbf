"""PDF: a title, the header fields, then each table on paged rows with the header repeated.

Rows are drawn straight on the reportlab canvas: platypus' LongTable measured 1,840 rows/s,
direct drawing 11,000. Long cells wrap inside their column; a row taller than what is left of
a page continues on the next one. Column widths come from the first rows of each table, since
the rest are still streaming. reportlab keeps the document in memory until it is saved, so the
PDF is the one format whose bytes are all held at once (about 160 KB per 1,000 rows).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from io import BytesIO
from itertools import chain, islice

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from services.exports.rendering.renderers.cells import cell_to_text
from services.exports.rendering.renderers.chunks import CHUNK_SIZE
from services.exports.rendering.renderers.model import Cell, Report, Table
from services.exports.rendering.renderers.pdf_fonts import FontChain, shared_font_chain
from services.exports.rendering.renderers.pdf_layout import fit_widths
from services.exports.rendering.renderers.pdf_stream import TextStream
from services.exports.rendering.renderers.pdf_text import TextSetter

PAGE_SIZE: tuple[float, float] = landscape(A4)
PAGE_WIDTH, PAGE_HEIGHT = PAGE_SIZE
MARGIN = 36.0
TOP, BOTTOM = PAGE_HEIGHT - MARGIN, MARGIN + 14  # the footer sits below BOTTOM
BODY, LEADING = 8.0, 10.0  # points
TITLE, HEADING, FOOTER = 16.0, 11.0, 7.0
PAD_X, PAD_Y = 3.0, 2.5
GRID_WIDTH, GRID_GRAY, HEADER_FILL_GRAY = 0.4, 0.55, 0.91
THIN_FACE_STROKE = 0.035  # stroke per point of size that makes a Thin face read as Regular
SAMPLE_ROWS = 100  # rows read ahead to size the columns
HEADER_LINES_MAX = 3
FOOTER_TITLE_CHARS = 120


def render_pdf(report: Report) -> Iterator[bytes]:
    """Render the report to PDF and stream the finished bytes in chunks."""
    document = PdfDocument(report.title, shared_font_chain())
    document.write_fields(report.fields)
    for table in report.tables:
        document.write_table(table)
    data = memoryview(document.finish())
    for start in range(0, len(data), CHUNK_SIZE):
        yield bytes(data[start : start + CHUNK_SIZE])


class PdfDocument:
    """Draws blocks of wrapped text top to bottom, breaking pages as it goes."""

    def __init__(self, title: str, fonts: FontChain) -> None:
        self.setter = TextSetter(fonts)
        self.title = self.setter.clean(" ".join(title.split()))
        self.buffer = BytesIO()
        self.canvas = Canvas(
            self.buffer,
            pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
            initialFontName=fonts.faces[0].name,
            pageCompression=1,
        )
        self.canvas.setTitle(self.title)
        self.canvas.setCreator("Depot exports")
        self.text = TextStream(self.canvas, fonts, THIN_FACE_STROKE)
        self.page = 1
        self.table: _TableLayout | None = None
        self._start_page()
        for line in self.setter.lines(self.title, PAGE_WIDTH - 2 * MARGIN, TITLE):
            self._line(MARGIN, self.y - TITLE, line, TITLE)
            self.y -= TITLE * 1.25
        self.y -= 6

    def write_fields(self, fields: Sequence[tuple[str, Cell]]) -> None:
        if not fields:
            return
        keys = [self.setter.clean(key) for key, _ in fields]
        key_width = min(max(self.setter.measure(key) for key in keys) * BODY / 1000 + 2 * PAD_X + 8, 180.0)
        xs = [MARGIN, MARGIN + key_width]
        widths = [key_width, PAGE_WIDTH - 2 * MARGIN - key_width]
        for key, (_, value) in zip(keys, fields, strict=True):
            self._block(xs, self._cell_lines([key, self.setter.clean(cell_to_text(value))], widths))
        self.y -= 8

    def write_table(self, table: Table) -> None:
        if not table.columns:
            self._line(MARGIN, self.y - HEADING, self.setter.clean(f"{table.name} (no columns)"), HEADING)
            self.y -= HEADING * 1.6
            return
        rows = iter(table.rows)
        sample = list(islice(rows, SAMPLE_ROWS))
        layout = _TableLayout.plan(self.setter, table, sample)
        if self.y - BOTTOM < HEADING * 1.6 + layout.header_height + 3 * LEADING:
            self._new_page()
        self._line(MARGIN, self.y - HEADING, self.setter.clean(table.name), HEADING)
        self.y -= HEADING * 1.6
        self.table = layout
        self._table_header()
        clean, to_text, xs, widths = self.setter.clean, cell_to_text, layout.xs, layout.widths
        empty = True
        for row in chain(sample, rows):
            self._block(xs, self._cell_lines([clean(to_text(cell)) for cell in row], widths), grid=True)
            empty = False
        if empty:
            self._block(xs[:1], [["(no rows)"]], grid=True)
        self._close_table_segment()
        self.table = None
        self.y -= 12

    def finish(self) -> bytes:
        self._end_page()
        self.canvas.save()
        return self.buffer.getvalue()

    def _cell_lines(self, texts: list[str], widths: list[float]) -> list[list[str]]:
        lines = self.setter.lines
        return [lines(text, width - 2 * PAD_X, BODY) for text, width in zip(texts, widths, strict=True)]

    def _block(self, xs: list[float], cell_lines: list[list[str]], grid: bool = False) -> None:
        """Draw one row of cells; a row taller than the space left continues on the next page."""
        height = max(len(lines) for lines in cell_lines)
        done = 0
        while done < height:
            room = int((self.y - BOTTOM - 2 * PAD_Y) // LEADING)
            remaining = height - done
            # A row that fits on a page starts on a new one; only a taller row is split.
            too_tall_here = remaining > room and not self._page_is_fresh()
            if too_tall_here and (room < 1 or remaining <= self._fresh_page_room()):
                self._new_page()
                continue
            take = max(1, min(room, remaining))
            baseline = self.y - PAD_Y - BODY * 0.95
            for x, lines in zip(xs, cell_lines, strict=False):
                self._body_lines(x + PAD_X, baseline, lines[done : done + take])
            self.y -= take * LEADING + 2 * PAD_Y
            if grid and self.table is not None:
                self.canvas.line(MARGIN, self.y, self.table.right, self.y)
            done += take

    def _body_lines(self, x: float, baseline: float, lines: list[str]) -> None:
        line_out, runs = self.text.line, self.setter.runs
        for line in lines:
            if line:
                line_out(x, baseline, runs(line), BODY)
            baseline -= LEADING

    def _line(self, x: float, baseline: float, line: str, size: float, gray: float = 0.0) -> None:
        self.text.line(x, baseline, self.setter.runs(line), size, gray)

    def _table_header(self) -> None:
        layout = self.table
        assert layout is not None
        self.canvas.setFillGray(HEADER_FILL_GRAY)
        self.canvas.rect(
            MARGIN, self.y - layout.header_height, layout.right - MARGIN, layout.header_height, 0, 1
        )
        self.canvas.setFillGray(0)
        self.canvas.line(MARGIN, self.y, layout.right, self.y)
        layout.segment_top = self.y
        self._block(layout.xs, layout.header_lines, grid=True)

    def _close_table_segment(self) -> None:
        """The vertical rules of the part of the current table that is on this page."""
        layout = self.table
        if layout is not None:
            for x in [*layout.xs, layout.right]:
                self.canvas.line(x, layout.segment_top, x, self.y)

    def _page_is_fresh(self) -> bool:
        return self.y >= TOP - (self.table.header_height if self.table else 0) - 0.01

    def _fresh_page_room(self) -> int:
        top = TOP - (self.table.header_height if self.table else 0)
        return int((top - BOTTOM - 2 * PAD_Y) // LEADING)

    def _new_page(self) -> None:
        self._close_table_segment()
        self._end_page()
        self.canvas.showPage()
        self.page += 1
        self._start_page()
        if self.table is not None:
            self._table_header()

    def _start_page(self) -> None:
        self.y = TOP
        self.canvas.setStrokeGray(GRID_GRAY)  # showPage resets the graphics state
        self.canvas.setLineWidth(GRID_WIDTH)

    def _end_page(self) -> None:
        title = (
            self.title
            if len(self.title) <= FOOTER_TITLE_CHARS
            else self.title[: FOOTER_TITLE_CHARS - 1] + "…"
        )
        self._line(MARGIN, MARGIN, f"{title} · page {self.page}", FOOTER, gray=0.4)
        self.text.flush()  # text goes on top of the rules and fills drawn meanwhile


class _TableLayout:
    """Column positions and the wrapped header of one table."""

    def __init__(self, xs: list[float], widths: list[float], header_lines: list[list[str]]) -> None:
        self.xs = xs
        self.widths = widths
        self.right = xs[-1] + widths[-1]
        self.header_lines = header_lines
        self.header_height = max(len(lines) for lines in header_lines) * LEADING + 2 * PAD_Y
        self.segment_top = 0.0

    @classmethod
    def plan(cls, setter: TextSetter, table: Table, sample: list[Sequence[Cell]]) -> _TableLayout:
        columns = [setter.clean(column) for column in table.columns]
        samples = [[setter.clean(cell_to_text(cell)) for cell in row] for row in sample]
        widths = fit_widths(
            setter, columns, samples, available=PAGE_WIDTH - 2 * MARGIN, size=BODY, padding=PAD_X
        )
        xs = [MARGIN]
        for width in widths[:-1]:
            xs.append(xs[-1] + width)
        header = [
            setter.lines(column, width - 2 * PAD_X, BODY)[:HEADER_LINES_MAX]
            for column, width in zip(columns, widths, strict=True)
        ]
        return cls(xs, widths, header)
