"""Every export format opened with a real reader; no database needed."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
import yaml
from docx import Document

from services.exports.rendering.renderers import (
    Cell,
    RenderOptions,
    Report,
    Table,
    UnsupportedCharacters,
    render,
    render_zip,
)
from services.exports.rendering.renderers.cells import json_value
from services.exports.rendering.renderers.pdf_fonts import shared_font_chain
from services.exports.rendering.renderers.pdf_text import TextSetter
from services.exports.rendering.renderers.xlsx_workbook import SheetNames, render_xlsx
from services.exports.rules import output_type

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
COLUMNS = ["version_no", "text", "total", "is_best", "created_at", "note"]
FORMULAS = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\ry"]
LONG_TEXT = " ".join(f"word{index:04d}" for index in range(220))  # ~2,000 characters
MULTILINGUAL = "Ελληνικά Кириллица 中文简体 日本語 한국어"


def versions(count: int = 3) -> Iterator[Sequence[Cell]]:
    for number in range(1, count + 1):
        yield number, f"version {number}", 30.5 + number, number == 2, WHEN, None


def report(*tables: Table, fields: list[tuple[str, Cell]] | None = None) -> Report:
    default_fields: list[tuple[str, Cell]] = [
        ("prompt_id", "p-1"),
        ("original_text", "first line\nsecond | line"),
    ]
    return Report(
        title="Prompt session", fields=default_fields if fields is None else fields, tables=list(tables)
    )


def rendered(value: Report, fmt: str, **options: str) -> bytes:
    return b"".join(render(value, fmt, RenderOptions(**options)))  # type: ignore[arg-type]


def formula_report() -> Report:
    return report(Table("cells", ["value", "number"], [(text, -5) for text in FORMULAS]))


def pdf_text(data: bytes, tmp_path: Path, *pages: str) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed here; CI installs it")
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", *pages, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_json_has_title_fields_and_one_object_per_row_with_rfc3339_times() -> None:
    document = json.loads(rendered(report(Table("versions", COLUMNS, versions())), "json"))
    assert document["title"] == "Prompt session"
    assert document["fields"]["original_text"] == "first line\nsecond | line"
    assert document["versions"][1] == {
        "version_no": 2,
        "text": "version 2",
        "total": 32.5,
        "is_best": True,
        "created_at": "2024-05-06T07:08:09.000000Z",
        "note": None,
    }


def test_yaml_reads_back_exactly_the_json_values_even_for_awkward_strings() -> None:
    awkward: list[Cell] = [
        "", " lead", "trail ", "yes", "No", "null", "~", "1", "0x1F", "- a", "a: b", "a #b", "#c", "@x",
        "=1+1", "a\nb", "tab\there", "\x85", "\u2028", "\x7f", "\x01", MULTILINGUAL, "😀", "it's", '"q"',
        "\\", "2024-01-01", "?", "!tag", "&a", "*a", "|", ">", "%", "<<", "=", "On", "nan", "[x]", "{y}",
        1, -5, 10**20, 1.5, -0.0, 1e-7, 1e300, math.inf, -math.inf, True, False, None, WHEN,
    ]  # fmt: skip
    columns = [f"c{index}" for index in range(len(awkward))] + ["yes", "1"]
    data = rendered(report(Table("rows", columns, [[*awkward, "k1", "k2"]])), "yaml")
    loaded = yaml.safe_load(data)["rows"][0]
    assert [loaded[column] for column in columns] == [json_value(cell) for cell in [*awkward, "k1", "k2"]]


def test_yaml_of_a_table_without_rows_is_an_empty_list() -> None:
    assert yaml.safe_load(rendered(report(Table("versions", COLUMNS, [])), "yaml"))["versions"] == []


def test_markdown_escapes_pipes_and_newlines_inside_table_cells() -> None:
    rows = [(1, "a | b\nnext line", 2.0, False, WHEN, "back\\slash")]
    text = rendered(report(Table("versions", COLUMNS, rows)), "markdown").decode()
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table_lines) == 3  # header, separator, one row: the newline did not end the row
    row = table_lines[2].replace("\\\\", "").replace("\\|", "")
    assert row.count("|") == len(COLUMNS) + 1
    assert "a \\| b<br>next line" in table_lines[2]
    assert text.startswith("# Prompt session\n")


def test_text_shows_fields_then_one_aligned_block_per_record() -> None:
    text = rendered(report(Table("versions", COLUMNS, versions(2))), "text").decode()
    assert "original_text  first line\n               second | line" in text
    assert "version_no  2\ntext        version 2\n" in text


def csv_records(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def test_csv_safe_mode_neutralises_formula_cells() -> None:
    rows = csv_records(rendered(formula_report(), "csv"))
    assert [row["value"] for row in rows] == ["'" + text for text in FORMULAS]
    assert {row["number"] for row in rows} == {"-5"}  # a negative number is a number, not a formula


def test_csv_raw_mode_keeps_formula_cells_untouched() -> None:
    rows = csv_records(rendered(formula_report(), "csv", csv_mode="raw"))
    assert [row["value"] for row in rows] == FORMULAS


def test_csv_of_several_tables_is_a_zip_of_one_csv_per_table() -> None:
    tables = [Table(name, COLUMNS, versions(2)) for name in ("multi-agent", "temporal", "feedback")]
    archive = zipfile.ZipFile(io.BytesIO(rendered(report(*tables), "csv")))
    assert archive.namelist() == ["multi-agent.csv", "temporal.csv", "feedback.csv"]
    rows = list(csv.reader(io.StringIO(archive.read("temporal.csv").decode(), newline="")))
    assert rows[0] == ["report.prompt_id", "report.original_text", *COLUMNS]
    assert rows[2][:4] == ["p-1", "first line\nsecond | line", "2", "version 2"]
    assert output_type("csv", table_count=3).media_type == "application/zip"


def test_csv_renders_a_row_generator_of_200000_rows_in_constant_memory() -> None:
    def many() -> Iterator[Sequence[Cell]]:
        for number in range(200_000):
            yield number, f"text of row {number}", 1.5, True, WHEN, "=formula"

    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in render(report(Table("big", COLUMNS, many())), "csv"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 200_000 * 40
    assert peak < 2_000_000, f"peak {peak:,} bytes: rows are being held"


@pytest.mark.parametrize("fmt", ["json", "yaml", "markdown", "text", "csv"])
def test_text_formats_read_rows_only_as_their_chunks_are_pulled(fmt: str) -> None:
    pulled = 0

    def counted() -> Iterator[Sequence[Cell]]:
        nonlocal pulled
        for number in range(100_000):
            pulled += 1
            yield number, LONG_TEXT[:100], 1.0, False, WHEN, None

    first = next(iter(render(report(Table("versions", COLUMNS, counted())), fmt)))
    assert 0 < len(first) < 200 * 1024
    assert pulled < 5_000, f"{pulled} rows read for the first chunk"


def test_xlsx_safe_mode_neutralises_formula_strings_but_not_numbers(tmp_path: Path) -> None:
    sheet = _workbook(rendered(formula_report(), "xlsx"), tmp_path)["cells"]
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    # A carriage return is a line end under the documents' one rule for control characters, and a
    # cell that starts with a line end is no formula.
    assert [row[0] for row in values] == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "\ny"]
    assert {row[1] for row in values} == {-5}


def test_xlsx_raw_mode_keeps_formula_strings_as_text(tmp_path: Path) -> None:
    sheet = _workbook(rendered(formula_report(), "xlsx", csv_mode="raw"), tmp_path)["cells"]
    assert sheet["A2"].value == "=1+1" and sheet["A2"].data_type == "s"  # text, never a live formula


def test_xlsx_continues_on_numbered_sheets_beyond_the_row_limit(tmp_path: Path) -> None:
    chunks = render_xlsx(
        report(Table("versions", COLUMNS, versions(11)), fields=[]), "safe", max_rows_per_sheet=5
    )
    workbook = _workbook(b"".join(chunks), tmp_path)
    assert workbook.sheetnames == ["versions", "versions (2)", "versions (3)"]
    numbers = []
    for sheet in workbook.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        assert list(rows[0]) == COLUMNS and len(rows) <= 5
        numbers += [row[0] for row in rows[1:]]
    assert numbers == list(range(1, 12))


def test_xlsx_has_a_fields_sheet_and_typed_cells(tmp_path: Path) -> None:
    workbook = _workbook(rendered(report(Table("versions", COLUMNS, versions())), "xlsx"), tmp_path)
    assert workbook.sheetnames == ["fields", "versions"]
    assert workbook["fields"]["B3"].value == "first line\nsecond | line"
    row = next(workbook["versions"].iter_rows(min_row=3, max_row=3, values_only=True))
    assert row == (2, "version 2", 32.5, True, WHEN.replace(tzinfo=None), None)


def test_sheet_names_follow_excel_rules() -> None:
    names = SheetNames()
    assert names.claim("a/b:c*d?e[f]g\\h") == "a_b_c_d_e_f_g_h"
    assert names.claim("x" * 40) == "x" * 31
    assert names.claim("X" * 40) == "X" * 27 + " (2)"  # unique ignoring case, still 31 characters
    assert names.claim("History") == "History_"
    assert names.claim("versions", part=2) == "versions (2)"
    assert names.claim("tab\x01\x85\u0080name\n") == "tab name"  # the control-character rule
    assert names.claim("=SUM(A1)") == "_=SUM(A1)" and SheetNames(safe=False).claim("=SUM(A1)") == "=SUM(A1)"
    assert names.claim("'quoted'") == "quoted" and names.claim("\x01") == "Sheet"
    emoji = names.claim("😀" * 20)  # Excel counts UTF-16 units: 15 emoji are 30
    assert emoji == "😀" * 15 and len(emoji.encode("utf-16-le")) <= 62


def test_docx_holds_the_fields_and_every_row_of_every_table(tmp_path: Path) -> None:
    rows = [(1, "<b> & co", 1.0, True, WHEN, "line one\nline two")]
    tables = [Table("versions", COLUMNS, rows), Table("empty", ["a", "b"], [])]
    document = _document(rendered(report(*tables), "docx"), tmp_path)
    paragraphs = [paragraph.text for paragraph in document.paragraphs]
    assert "original_text: first line\nsecond | line" in paragraphs
    assert [cell.text for cell in document.tables[0].rows[0].cells] == COLUMNS
    assert [cell.text for cell in document.tables[0].rows[1].cells] == [
        "1", "<b> & co", "1.0", "true", "2024-05-06T07:08:09.000000Z", "line one\nline two"
    ]  # fmt: skip
    assert [cell.text for cell in document.tables[1].rows[1].cells] == ["(no rows)", ""]


def test_docx_renders_thousands_of_rows_in_order(tmp_path: Path) -> None:
    document = _document(rendered(report(Table("versions", COLUMNS, versions(3000))), "docx"), tmp_path)
    rows = document.tables[0].rows
    assert len(rows) == 3001 and rows[3000].cells[0].text == "3000"


def test_pdf_text_in_greek_cyrillic_and_cjk_is_extractable(tmp_path: Path) -> None:
    rows = [(1, MULTILINGUAL, 1.0, True, WHEN, None)]
    data = rendered(report(Table("versions", COLUMNS, rows), fields=[("text", MULTILINGUAL)]), "pdf")
    assert pdf_text(data, tmp_path).count(MULTILINGUAL) == 2


def test_pdf_text_beyond_u_ffff_such_as_emoji_is_extractable(tmp_path: Path) -> None:
    data = rendered(report(fields=[("note", "thumbs 👍 up, smile 😀 done")]), "pdf")
    assert "thumbs 👍 up, smile 😀 done" in pdf_text(data, tmp_path)


def test_pdf_refuses_characters_no_embedded_font_covers_and_names_them() -> None:
    rows = [(1, "Linear B 𐀀 and cuneiform 𒀀", 1.0, True, WHEN, None)]
    with pytest.raises(UnsupportedCharacters) as raised:
        rendered(report(Table("versions", COLUMNS, rows)), "pdf")
    assert "U+10000 𐀀" in raised.value.message and "U+12000 𒀀" in raised.value.message
    assert raised.value.characters == ["𐀀", "𒀀"]


def test_pdf_wraps_a_2000_character_cell_and_keeps_all_of_its_text(tmp_path: Path) -> None:
    rows = [(1, LONG_TEXT, 1.0, True, WHEN, "short")]
    text = pdf_text(rendered(report(Table("versions", COLUMNS, rows)), "pdf"), tmp_path)
    assert "".join(text.split()).count("".join(LONG_TEXT.split())) == 1
    assert sum(1 for line in text.splitlines() if "word" in line) > 5  # wrapped onto many lines


def test_pdf_lines_never_exceed_their_column() -> None:
    setter = TextSetter(shared_font_chain())
    text = setter.clean(f"{LONG_TEXT} {'x' * 500} {MULTILINGUAL * 20}")
    lines = setter.lines(text, 150, 8)
    assert all(setter.measure(line) * 8 / 1000 <= 150 for line in lines)
    assert "".join("".join(lines).split()) == "".join(text.split())


def test_pdf_repeats_the_table_header_on_every_page(tmp_path: Path) -> None:
    data = rendered(report(Table("versions", COLUMNS, versions(400))), "pdf")
    for page in ("1", "3"):
        assert "created_at" in pdf_text(data, tmp_path, "-f", page, "-l", page)
    assert "version 400" in pdf_text(data, tmp_path)


def test_zip_of_chat_files_streams_each_named_file() -> None:
    big = (bytes([index % 251]) * 50_000 for index in range(20))  # 1 MB in 20 chunks
    files = [("notes.md", [b"# notes\n"]), ("data/large.bin", big), ("empty.txt", [])]
    data = b"".join(render_zip(iter(files)))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == ["notes.md", "data/large.bin", "empty.txt"]
    assert archive.read("notes.md") == b"# notes\n" and archive.read("empty.txt") == b""
    assert len(archive.read("data/large.bin")) == 1_000_000 and archive.testzip() is None


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown export format 'rtf'"):
        render(report(), "rtf")


@pytest.mark.parametrize("fmt", ["xlsx", "docx"])
def test_libreoffice_opens_and_converts_the_file(fmt: str, tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed here")
    source = tmp_path / f"export.{fmt}"
    source.write_bytes(rendered(report(Table("versions", COLUMNS, versions(50))), fmt))
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"  # no clash with other runs
    command = [soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)]
    subprocess.run(command, capture_output=True, timeout=180, check=True)
    converted = tmp_path / "export.pdf"
    assert converted.exists() and converted.stat().st_size > 1000
    assert "version 50" in pdf_text(converted.read_bytes(), tmp_path)


def _workbook(data: bytes, tmp_path: Path) -> openpyxl.Workbook:
    path = tmp_path / "out.xlsx"
    path.write_bytes(data)
    return openpyxl.load_workbook(path)


def _document(data: bytes, tmp_path: Path) -> Document:  # type: ignore[valid-type]
    path = tmp_path / "out.docx"
    path.write_bytes(data)
    return Document(str(path))
