"""Table artifacts in every format and chats as zips, read from the files service, through the gateway."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from tests.exports import readers
from tests.exports.conftest import content, error_code, export, export_ok, needs_files
from tests.support.system import System, User

pytestmark = needs_files
FORMATS = ("json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx")


def create_artifact(user: User, chat_id: str, marker: str) -> dict[str, Any]:
    reply = user.http.post(
        f"/api/v1/chats/{chat_id}/artifacts",
        json={
            "title": f"Quarterly {marker}",
            "columns": ["region", "revenue", "note"],
            "rows": [["North", 120.5, f"Note {marker}"], ["South", 99, "=SUM(B1:B2)"], ["East", None, "ok"]],
        },
    )
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def put_file(user: User, chat_id: str, filename: str, data: bytes, media_type: str = "text/plain") -> None:
    reply = user.http.put(
        f"/api/v1/chats/{chat_id}/files/{filename}", content=data, headers={"Content-Type": media_type}
    )
    assert reply.status_code in (200, 201), reply.text


@pytest.mark.parametrize("fmt", FORMATS)
def test_table_artifact_opens_in_every_format(alice: User, fmt: str) -> None:
    marker = f"Marker{uuid.uuid4().hex[:10]}"
    artifact = create_artifact(alice, "c1", marker)
    body = export_ok(alice, f"artifacts/{artifact['id']}", fmt)
    data = content(alice, body["id"]).content
    text = readers.text_of(fmt, data)
    assert readers.finds(fmt, text, f"Note {marker}"), f"artifact row missing from {fmt}"
    assert "North" in text and "South" in text
    assert body["receipt"]["row_count"] == 3
    if fmt == "csv":
        assert readers.csv_rows(data)[1]["note"] == "'=SUM(B1:B2)", "formulas are neutralised by default"


def test_chat_exports_as_a_zip_of_its_files(alice: User) -> None:
    chat = f"chat-{uuid.uuid4().hex[:8]}"
    files = {"notes.md": b"# Notes\n\nhello", "data.csv": b"a,b\n1,2\n", "empty.txt": b""}
    for name, data in files.items():
        put_file(alice, chat, name, data)
    body = export_ok(alice, f"chats/{chat}", "zip")
    reply = content(alice, body["id"])
    assert reply.headers["content-type"] == "application/zip"
    assert readers.zip_members(reply.content) == files
    assert body["receipt"]["row_count"] == 3
    assert export(alice, f"chats/{chat}", "zip").json()["id"] == body["id"], "unchanged chat: reused"
    put_file(alice, chat, "more.txt", b"new")
    again = export(alice, f"chats/{chat}", "zip")
    assert again.status_code == 201 and again.json()["id"] != body["id"], "a changed chat renders anew"
    assert export(alice, f"chats/{chat}", "pdf").status_code == 400


def test_other_users_artifacts_and_chats_are_not_found(alice: User, bob: User) -> None:
    artifact = create_artifact(alice, "c1", "secret")
    put_file(alice, "private", "a.txt", b"x")
    assert export(bob, f"artifacts/{artifact['id']}", "xlsx").status_code == 404
    assert export(bob, "chats/private", "zip").status_code == 404
    assert error_code(export(alice, f"artifacts/{uuid.uuid4()}", "xlsx")) == "NOT_FOUND"


def test_seed_004_artifact_export_answers_with_a_link_that_needs_no_token(
    alice: User, system: System
) -> None:
    artifact = create_artifact(alice, "c2", "seed4")
    reply = alice.http.post("/api/artifacts/export", json={"artifactId": artifact["id"], "format": "xlsx"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) >= {"id", "artifactId", "format", "url", "status", "createdAt"}
    assert (body["artifactId"], body["format"], body["status"]) == (artifact["id"], "xlsx", "completed")
    assert body["createdAt"].endswith("Z")
    with system.anonymous() as browser:  # a new tab sends no bearer token
        download = browser.get(body["url"].removeprefix(system.url))
    assert download.status_code == 200, download.text
    assert "Quarterly seed4" in readers.xlsx_sheets(download.content)
    stored = alice.http.get(f"/api/v1/exports/{body['id']}").json()
    assert hashlib.sha256(download.content).hexdigest() == stored["sha256"]
