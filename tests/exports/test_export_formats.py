"""Every source in every format, end to end through the gateway, opened with a real reader."""

from __future__ import annotations

import pytest

from tests.exports import readers
from tests.exports.conftest import content, create_session, export_ok
from tests.support.system import User

FORMATS = ("json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx")
MEDIA_TYPES = {
    "json": "application/json",
    "yaml": "application/yaml",
    "markdown": "text/markdown; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip",
}
EXTENSIONS = {"markdown": "md", "text": "txt"}


def download(user: User, source: str, fmt: str, **options: object) -> tuple[dict[str, object], bytes]:
    body = export_ok(user, source, fmt, **options)
    reply = content(user, str(body["id"]))
    served = "zip" if fmt == "csv" and source == "datasets/all" else fmt
    assert reply.headers["content-type"] == MEDIA_TYPES[served]
    assert len(reply.content) == body["size_bytes"], "the content itself, decoded"
    assert reply.headers["content-length"] == str(body["stored_bytes"]), "as sent: stored (gzip for text)"
    assert reply.headers["etag"] == f'"{body["sha256"]}"'
    extension = EXTENSIONS.get(served, served)
    assert f'.{extension}"' in reply.headers["content-disposition"], reply.headers["content-disposition"]
    return body, reply.content


@pytest.mark.parametrize("fmt", FORMATS)
def test_prompt_session_opens_in_every_format_with_its_whole_workflow(alice: User, fmt: str) -> None:
    session = create_session(alice, feedback=False)
    body, data = download(alice, f"prompts/{session.id}", fmt)
    text = readers.text_of(fmt, data)
    for agent in ("Syntax", "Structure", "Domain"):
        assert readers.finds(fmt, text, f"{agent} {session.marker}"), f"{agent} version missing from {fmt}"
    assert readers.finds(fmt, text, f"Original {session.marker}"), f"the original text is missing from {fmt}"
    assert body["receipt"]["row_count"] == 3
    assert body["options"] == {"include_workflow": True, "csv_mode": "safe"}


@pytest.mark.parametrize("fmt", ["json", "markdown", "docx"])
def test_without_workflow_only_the_prompt_and_its_best_version_are_exported(alice: User, fmt: str) -> None:
    session = create_session(alice, feedback=False)
    body, data = download(alice, f"prompts/{session.id}", fmt, include_workflow=False)
    text = readers.text_of(fmt, data)
    assert f"Structure {session.marker}" in text and f"Original {session.marker}" in text
    assert f"Syntax {session.marker}" not in text and f"Domain {session.marker}" not in text
    assert body["receipt"]["row_count"] == 1


def expected_in_dataset(name: str, marker: str) -> list[str]:
    return {
        "multi-agent": [f"req-{marker}", f"Structure {marker}", f"Original {marker}"],
        "temporal": [f"Syntax {marker}", f"Structure {marker}", f"Domain {marker}"],
        "feedback": [f"req-{marker}", "structure"],
        "effectiveness": ["scores", "feedback", "structure", "syntax", "domain"],
    }[name]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dataset", ["multi-agent", "temporal", "feedback", "effectiveness"])
def test_dataset_opens_in_every_format(alice: User, dataset: str, fmt: str) -> None:
    session = create_session(alice)
    body, data = download(alice, f"datasets/{dataset}", fmt)
    text = readers.text_of(fmt, data)
    for expected in expected_in_dataset(dataset, session.marker):
        assert readers.finds(fmt, text, expected), f"{expected!r} missing from {dataset} as {fmt}"
    assert body["receipt"]["row_count"] >= 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_datasets_export_together(alice: User, fmt: str) -> None:
    session = create_session(alice)
    body, data = download(alice, "datasets/all", fmt)
    if fmt == "csv":
        members = readers.zip_members(data)
        assert sorted(members) == ["effectiveness.csv", "feedback.csv", "multi-agent.csv", "temporal.csv"]
        temporal = readers.csv_rows(members["temporal.csv"])
        assert {row["text"] for row in temporal} >= {f"Syntax {session.marker}", f"Domain {session.marker}"}
        assert str(body["filename"]).endswith(".zip")
        return
    if fmt == "xlsx":
        sheets = readers.xlsx_sheets(data)
        assert {"multi-agent", "temporal", "feedback", "effectiveness"} <= set(sheets), list(sheets)
    text = readers.text_of(fmt, data)
    for dataset in ("multi-agent", "temporal", "feedback", "effectiveness"):
        for expected in expected_in_dataset(dataset, session.marker):
            assert readers.finds(fmt, text, expected), f"{expected!r} of {dataset} missing from all as {fmt}"


def test_multi_agent_csv_carries_each_agents_real_score(alice: User) -> None:
    create_session(alice)
    _, data = download(alice, "datasets/multi-agent", "csv")
    [row] = readers.csv_rows(data)
    assert list(row) == [
        "request_id",
        "timestamp",
        "original_prompt",
        "final_prompt",
        "selected_agent",
        "syntax_score",
        "structure_score",
        "domain_score",
    ]
    assert (float(row["syntax_score"]), float(row["structure_score"]), float(row["domain_score"])) == (
        30,
        45,
        35,
    )
    assert row["selected_agent"] == "structure"


def test_csv_and_xlsx_neutralise_formulas_unless_raw(alice: User) -> None:
    alice.create_prompt(
        original_text='=HYPERLINK("http://evil")', versions=[{"text": "@SUM(A1)", "source": "syntax"}]
    )
    _, safe = download(alice, "datasets/temporal", "csv")
    _, raw = download(alice, "datasets/temporal", "csv", csv_mode="raw")
    assert readers.csv_rows(safe)[0]["text"] == "'@SUM(A1)"
    assert readers.csv_rows(raw)[0]["text"] == "@SUM(A1)"
    body, workbook = download(alice, "datasets/multi-agent", "xlsx")
    cells = [c for rows in readers.xlsx_sheets(workbook).values() for row in rows for c in row]
    assert '\'=HYPERLINK("http://evil")' in cells or '=HYPERLINK("http://evil")' not in cells
    assert body["receipt"]["csv_mode"] == "safe"


def test_non_latin_text_survives_every_format(alice: User) -> None:
    text = "Ελληνικά Кириллица 中文字符"
    prompt = alice.create_prompt(original_text=text, versions=[{"text": f"{text} v1", "source": "syntax"}])
    for fmt in ("pdf", "docx", "xlsx", "yaml"):
        _, data = download(alice, f"prompts/{prompt['id']}", fmt)
        assert "Кириллица" in readers.text_of(fmt, data), fmt
        assert "中文字符" in readers.text_of(fmt, data).replace(" ", ""), fmt
