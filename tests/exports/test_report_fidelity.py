"""No format drops a field of a report, and each writes every type one way; through the gateway.

The json rendering is the reference: it is the report's own structure (`{title, fields, <table>:
[{column: value}]}`), checked against the REST view of the source. Every other format of the same
source is read back with a real reader into that structure (csv module, PyYAML, openpyxl,
python-docx, markdown-it, pdftotext) and compared field by field, cell by cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from docx import Document
from markdown_it import MarkdownIt

from services.exports.rendering.renderers.xlsx_workbook import SheetNames
from tests.exports.conftest import content, create_session, export_ok, files_service_running
from tests.support.system import User

FORMATS = ("json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx")
DATASETS = ("multi-agent", "temporal", "feedback", "effectiveness")
SOURCES = (
    "prompt",
    "prompt-best-only",
    "prompt-without-versions",
    "artifact",
    *(f"datasets/{name}" for name in DATASETS),
    "datasets/all",
)
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
EXPLANATION = {"reason": "clearer structure", "steps": [1, 2.5, {"kept": True}], "note": None}
EXPLANATION_TEXT = json.dumps(EXPLANATION, separators=(",", ":"), sort_keys=True)  # keys sorted, compact


@dataclass
class Found:
    """What a reader found: field values and tables of rows keyed by column."""

    fields: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    text: str = ""  # a PDF has no structure to read back: its text is searched instead


@dataclass
class Source:
    path: str
    subject: str
    options: dict[str, Any]


def make_source(user: User, name: str) -> Source:
    if name == "prompt-without-versions":
        prompt = user.create_prompt(
            request_id=f"req-{uuid.uuid4().hex[:8]}", original_text="Alone, no versions"
        )
        return Source(f"prompts/{prompt['id']}", "prompt", {"include_workflow": True})
    if name.startswith("prompt"):
        session = create_session(user)
        user.http.post(
            f"/api/v1/prompts/{session.id}/versions",
            json={"text": f"Explained {session.marker}", "source": "domain", "explanation": EXPLANATION},
        ).raise_for_status()
        return Source(f"prompts/{session.id}", "prompt", {"include_workflow": name == "prompt"})
    if name == "artifact":
        if not files_service_running():
            pytest.skip("the files service (artifacts) is not in this checkout")
        reply = user.http.post(
            "/api/v1/chats/c1/artifacts",
            json={
                "title": f"Quarterly {uuid.uuid4().hex[:8]}",
                "columns": ["region", "revenue", "units", "audited", "note"],
                "rows": [["North", 120.5, 7, True, "first"], ["South", -3.25, 0, False, None]],
            },
        )
        assert reply.status_code == 201, reply.text
        return Source(f"artifacts/{reply.json()['id']}", "artifact", {})
    create_session(user)
    return Source(name, "dataset", {})


@pytest.mark.parametrize("name", SOURCES)
def test_every_format_carries_every_field_and_cell_of_the_report(alice: User, name: str) -> None:
    source = make_source(alice, name)
    receipt, data = download(alice, source, "json")
    reference = json.loads(data)
    check_reference(alice, source, reference)
    expected = Found(
        reference["fields"], {k: v for k, v in reference.items() if k not in ("title", "fields")}
    )
    for fmt in FORMATS[1:]:
        receipt, data = download(alice, source, fmt)
        # A dataset report names the snapshot it was read in: each rendering's own, as in its receipt.
        wanted = Found({**expected.fields, **per_rendering(expected.fields, receipt)}, expected.tables)
        if fmt == "yaml":
            assert yaml.safe_load(data) == {**reference, "fields": wanted.fields}, (
                "yaml reads back as the json"
            )
        found = read(fmt, data, wanted, source)
        if source.subject == "dataset" and fmt == "csv":
            # A dataset CSV is the dataset's fixed columns (DESIGN.md, read by seed clients and
            # `depot prompts import`); what the report's fields say is in the export's receipt.
            found.fields = {
                "source": receipt["source"],
                "scope": "own",
                "revision": receipt["source_revision"],
                **per_rendering(expected.fields, receipt),
            }
        problems = differences(wanted, found, fmt)
        assert not problems, f"{source.path} as {fmt}: " + "; ".join(problems[:10])


def per_rendering(fields: dict[str, Any], receipt: dict[str, Any]) -> dict[str, Any]:
    if "snapshot_time" not in fields:
        return {}
    when = parse_time(receipt["receipt"]["snapshot_time"]).astimezone(UTC).replace(tzinfo=None)
    return {"snapshot_time": when.isoformat(timespec="microseconds") + "Z"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_type_reads_back_in_its_one_form(alice: User, fmt: str) -> None:
    source = make_source(alice, "prompt")
    _, data = download(alice, source, fmt)
    if fmt in ("json", "yaml"):
        document = json.loads(data) if fmt == "json" else yaml.safe_load(data)
        row = next(r for r in document["versions"] if r["explanation"] is not None)
        assert row["explanation"] == EXPLANATION, "an object, not a JSON-encoded string"
        assert RFC3339.fullmatch(row["created_at"]) and RFC3339.fullmatch(document["fields"]["created_at"])
        assert isinstance(row["is_best"], bool) and isinstance(row["version_no"], int)
        assert row["clarity"] is None and isinstance(document["versions"][0]["total"], float)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
        assert rows[-1]["explanation"] == EXPLANATION_TEXT, "compact JSON text"
        assert all(RFC3339.fullmatch(row["created_at"]) for row in rows)
        assert RFC3339.fullmatch(rows[0]["prompt.created_at"])
        assert [row["is_best"] for row in rows] == ["false", "true", "false", "false"]
        assert float(rows[0]["total"]) == 30 and rows[0]["version_no"] == "1"
    elif fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(data))
        header, *rows = list(workbook["versions"].iter_rows(values_only=True))
        last = dict(zip(header, rows[-1], strict=True))
        assert json.loads(last["explanation"]) == EXPLANATION
        assert isinstance(last["created_at"], datetime) and isinstance(last["is_best"], bool)
        assert isinstance(last["version_no"], int) and last["clarity"] is None
        cell = workbook["versions"].cell(row=2, column=header.index("created_at") + 1)
        assert cell.number_format == 'yyyy-mm-dd"T"hh:mm:ss.000"Z"', "shown in the RFC 3339 form"
    else:
        text = read_text(fmt, data)
        assert squeezed(EXPLANATION_TEXT) in squeezed(text)
        assert RFC3339.search(text) and "true" in text and "false" in text
        assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", text), "no PostgreSQL-style time"


# --- the reference ---------------------------------------------------------------------------


def download(user: User, source: Source, fmt: str) -> tuple[dict[str, Any], bytes]:
    receipt = export_ok(user, source.path, fmt, **source.options)
    return receipt, content(user, receipt["id"]).content


def check_reference(user: User, source: Source, reference: dict[str, Any]) -> None:
    """The json export holds what the REST API shows of the source."""
    fields = reference["fields"]
    if source.subject == "prompt":
        prompt = user.http.get(f"/api/v1/{source.path}").json()
        for key in ("id", "request_id", "agent_type", "original_text", "best_version_no", "revision"):
            assert fields[key] == prompt[key], key
        assert same_time(fields["created_at"], prompt["created_at"])
    elif source.subject == "artifact":
        artifact = user.http.get(f"/api/v1/{source.path}").json()
        table = reference[artifact["title"]]
        assert [list(row.values()) for row in table] == artifact["rows"]
        assert [fields[key] for key in ("id", "chat_id", "title")] == [
            artifact[k] for k in ("id", "chat_id", "title")
        ]
    else:
        assert fields["source"] == source.path


# --- readers ---------------------------------------------------------------------------------


def read(fmt: str, data: bytes, expected: Found, source: Source) -> Found:
    if fmt == "yaml":
        document = yaml.safe_load(data)
        return Found(document["fields"], {k: v for k, v in document.items() if k not in ("title", "fields")})
    if fmt == "csv":
        return read_csv(data, expected, source)
    if fmt == "xlsx":
        return read_xlsx(data, expected)
    if fmt == "docx":
        return read_docx(data, expected)
    if fmt == "markdown":
        return read_markdown(data, expected)
    if fmt == "text":
        return read_records(data.decode(), expected)
    return Found(text=read_text("pdf", data))


def read_csv(data: bytes, expected: Found, source: Source) -> Found:
    if data.startswith(b"PK"):  # datasets/all: a zip of one csv per dataset
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return Found(
                tables={n.removesuffix(".csv"): csv_dicts(archive.read(n)) for n in archive.namelist()}
            )
    rows = csv_dicts(data)
    [name] = expected.tables
    if source.subject == "dataset":
        return Found(tables={name: rows})
    prefix = f"{source.subject}."  # the report's fields lead every row as `<subject>.<key>` columns
    lead = [{k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)} for row in rows]
    assert all(fields == lead[0] for fields in lead), "every row carries the same fields"
    body = [{k: v for k, v in row.items() if not k.startswith(prefix)} for row in rows]
    # A table without rows is one row of the fields alone.
    return Found(lead[0], {name: [row for row in body if any(row.values())]})


def csv_dicts(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def read_xlsx(data: bytes, expected: Found) -> Found:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    names = SheetNames()
    found = Found()
    fields_sheet = workbook[names.claim("fields")]
    found.fields = {key: value for key, value in fields_sheet.iter_rows(min_row=2, values_only=True)}
    for name in expected.tables:
        header, *rows = workbook[names.claim(name)].iter_rows(values_only=True)
        found.tables[name] = [dict(zip(header, row, strict=True)) for row in rows]
    return found


def read_docx(data: bytes, expected: Found) -> Found:
    document = Document(io.BytesIO(data))
    found = Found()
    for paragraph in document.paragraphs:
        key, separator, value = paragraph.text.partition(": ")
        if separator and key in expected.fields:
            found.fields[key] = value
    for name, table in zip(expected.tables, document.tables, strict=True):
        header, *rows = [[cell.text for cell in row.cells] for row in table.rows]
        rows = [row for row in rows if row[0] != "(no rows)"]
        found.tables[name] = [dict(zip(header, row, strict=True)) for row in rows]
    return found


def read_markdown(data: bytes, expected: Found) -> Found:
    html = MarkdownIt("commonmark").enable("table").render(data.decode())
    parser = _HtmlTables()
    parser.feed(html)
    found = Found()
    for item in parser.items:
        key, _, value = item.partition(":")  # `- **key**: value`; an empty value leaves `key:`
        found.fields[key] = value.strip()
    for name, (header, *rows) in zip(expected.tables, parser.tables, strict=True):
        found.tables[name] = [dict(zip(header, row, strict=True)) for row in rows]
    return found


def read_records(text: str, expected: Found) -> Found:
    """The text format: `key  value` lines in blocks; a block per record after a table's title."""
    found = Found()
    blocks = [block.splitlines() for block in text.split("\n\n")]
    for block in blocks:
        if set(record_keys(block)) == set(expected.fields):
            found.fields = parse_record(block)
    for name, rows in expected.tables.items():
        columns = list(rows[0]) if rows else None
        found.tables[name] = [parse_record(b) for b in blocks if record_keys(b) == columns]
    return found


def record_keys(block: list[str]) -> list[str]:
    return [line.split(" ", 1)[0] for line in block if line and not line.startswith(" ")]


def parse_record(block: list[str]) -> dict[str, str]:
    return {
        line.split(" ", 1)[0]: line.partition(" ")[2].strip() for line in block if line and line[0] != " "
    }


class _HtmlTables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.items: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("li", "td", "th"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("li", "td", "th") and self._text is not None:
            text, self._text = "".join(self._text), None
            (self.items if tag == "li" else self.tables[-1][-1]).append(text)

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


# --- comparison --------------------------------------------------------------------------------


def differences(expected: Found, found: Found, fmt: str) -> list[str]:
    if fmt == "pdf":
        return pdf_differences(expected, found)
    problems = []
    for key, value in expected.fields.items():
        if key not in found.fields:
            problems.append(f"field {key} missing")
        elif not same(value, found.fields[key]):
            problems.append(f"field {key}: expected {value!r}, got {found.fields[key]!r}")
    for name, rows in expected.tables.items():
        got = found.tables.get(name)
        if got is None or len(got) != len(rows):
            problems.append(
                f"table {name}: expected {len(rows)} rows, got {got if got is None else len(got)}"
            )
            continue
        for number, (want, have) in enumerate(zip(rows, got, strict=True)):
            for column, value in want.items():
                if column not in have:
                    problems.append(f"{name} column {column} missing")
                elif not same(value, have[column]):
                    problems.append(f"{name}[{number}].{column}: expected {value!r}, got {have[column]!r}")
    return problems


def same(expected: Any, got: Any) -> bool:
    """Whether a read-back value is the reference value, in the form its format writes it."""
    if expected is None:
        return got in (None, "")
    if isinstance(expected, bool):
        return got is expected or got == ("true" if expected else "false")
    if isinstance(expected, int | float):
        return not isinstance(got, bool) and got not in (None, "") and float(got) == expected
    if isinstance(expected, dict | list):
        return got == expected or (isinstance(got, str) and json.loads(got) == expected)
    if isinstance(got, datetime):  # xlsx: an Excel date-time, which keeps milliseconds
        return (
            bool(RFC3339.fullmatch(expected))
            and abs(got.replace(tzinfo=UTC) - parse_time(expected)).total_seconds() < 0.001
        )
    return bool(got == expected)


def pdf_differences(expected: Found, found: Found) -> list[str]:
    text = squeezed(found.text)  # a wrapped cell's lines follow each other in the content stream
    wanted = [*expected.fields, *(str(v) for v in expected.fields.values() if v is not None)]
    for rows in expected.tables.values():
        wanted += list(rows[0]) if rows else []
        wanted += [cell_text(v) for row in rows for v in row.values() if v is not None]
    return [f"{item!r} not in the PDF" for item in wanted if squeezed(cell_text(item)) not in text]


def cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def squeezed(text: str) -> str:
    return "".join(text.split())


def read_text(fmt: str, data: bytes) -> str:
    """All the text a reader of the format shows."""
    if fmt == "markdown":
        parser = _HtmlText()
        parser.feed(MarkdownIt("commonmark").enable("table").render(data.decode()))
        return "".join(parser.parts)
    if fmt == "docx":
        document = Document(io.BytesIO(data))
        cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        return "\n".join([paragraph.text for paragraph in document.paragraphs] + cells)
    if fmt == "pdf":
        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (poppler-utils) is not installed: apt-get install -y poppler-utils")
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "export.pdf"
            path.write_bytes(data)
            result = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True)
        return result.stdout.decode()
    return data.decode()


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def same_time(a: str, b: str) -> bool:
    return parse_time(a) == parse_time(b)
