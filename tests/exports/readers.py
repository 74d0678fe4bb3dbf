"""Real readers for every export format: each turns the bytes into text a test can search.

The point is that the files open in the tools people use: json/yaml/csv/zip through the
standard library and PyYAML, xlsx through openpyxl, docx through python-docx, pdf through
poppler's pdftotext.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

PDFTOTEXT = shutil.which("pdftotext")


def json_document(data: bytes) -> Any:
    return json.loads(data)


def yaml_document(data: bytes) -> Any:
    return yaml.safe_load(data)


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None, "a member of the zip is corrupt"
        return {name: archive.read(name) for name in archive.namelist()}


def xlsx_sheets(data: bytes) -> dict[str, list[list[Any]]]:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return {
            sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def docx_text(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def pdf_text(data: bytes) -> str:
    if PDFTOTEXT is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: apt-get install -y poppler-utils")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "export.pdf"
        path.write_bytes(data)
        result = subprocess.run(
            [PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
        )
    return result.stdout.decode("utf-8")


def text_of(fmt: str, data: bytes) -> str:
    """Everything a reader of `fmt` finds in the bytes, as one searchable text."""
    if fmt == "json":
        return json.dumps(json_document(data), ensure_ascii=False)
    if fmt == "yaml":
        return json.dumps(yaml_document(data), ensure_ascii=False, default=str)
    if fmt in ("markdown", "text"):
        return data.decode("utf-8")
    if fmt == "csv":
        return json.dumps(csv_rows(data), ensure_ascii=False)
    if fmt == "zip":
        return "\n".join(
            f"{name}\n{content.decode('utf-8', errors='replace')}"
            for name, content in zip_members(data).items()
        )
    if fmt == "xlsx":
        sheets = xlsx_sheets(data)
        return "\n".join(
            f"{title}\n" + "\n".join("\t".join("" if v is None else str(v) for v in row) for row in rows)
            for title, rows in sheets.items()
        )
    if fmt == "docx":
        return docx_text(data)
    if fmt == "pdf":
        return pdf_text(data)
    raise AssertionError(f"no reader for {fmt}")


def finds(fmt: str, text: str, expected: str) -> bool:
    """Whether `expected` is in a reader's text; a PDF wraps cells, so there each word must be."""
    if fmt == "pdf":
        return all(word in text for word in expected.split())
    return expected in text
