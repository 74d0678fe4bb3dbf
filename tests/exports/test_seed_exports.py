"""The seed applications' export routes answer with the seeds' shapes (000, 001, 002, 004)."""

from __future__ import annotations

import json
import re
from datetime import datetime

from tests.exports import readers
from tests.exports.conftest import create_session
from tests.support.system import System, User


def test_seed_000_download_generates_then_reuses_and_lists_the_session_exports(alice: User) -> None:
    session = create_session(alice, feedback=False)
    path = f"/api/v1/prompts/{session.id}/export/download"
    first = alice.http.get(path, params={"format": "json"})
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    assert json.loads(first.content)["fields"]["agent_type"] == "sales assistant"
    again = alice.http.get(path, params={"format": "json"})
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    lean = alice.http.get(path, params={"format": "yaml", "include_workflow": "false"})
    assert lean.status_code == 200 and f"Syntax {session.marker}" not in lean.text
    listed = alice.http.get(f"/api/v1/prompts/{session.id}/exports")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["session_id"] == session.id and body["total"] == 2
    newest, oldest = body["exports"]
    assert (newest["format"], oldest["format"]) == ("yaml", "json"), "newest first"
    assert set(oldest) >= {
        "id",
        "session_id",
        "agent_type",
        "format",
        "file_size",
        "size_bytes",
        "created_at",
    }
    assert oldest["file_size"] == f"{len(first.content)} bytes" and oldest["size_bytes"] == len(first.content)
    assert oldest["agent_type"] == "sales assistant"
    datetime.fromisoformat(oldest["created_at"].replace("Z", "+00:00"))


def test_seed_000_routes_hide_other_users_sessions(alice: User, bob: User) -> None:
    session = create_session(alice, feedback=False)
    assert bob.http.get(f"/api/v1/prompts/{session.id}/export/download").status_code == 404
    assert bob.http.get(f"/api/v1/prompts/{session.id}/exports").status_code == 404
    bad = alice.http.get(f"/api/v1/prompts/{session.id}/export/download", params={"format": "exe"})
    assert bad.status_code == 400


def test_seed_001_storage_exports_answer_with_a_download_url_not_a_server_path(alice: User) -> None:
    session = create_session(alice)
    for route, members in (("export-multi-agent", 1), ("export-temporal", 3), ("export-all", None)):
        reply = alice.http.post(f"/api/storage/{route}")
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["success"] is True
        assert body["csv_path"] == body["download_url"]
        assert re.fullmatch(
            r"http://127\.0\.0\.1:\d+/api/v1/exports/[0-9a-f-]{36}/content", body["download_url"]
        )
        data = alice.http.get(body["download_url"]).content
        if members is None:
            files = readers.zip_members(data)
            assert len(files) == 4
            assert body["records"] == sum(len(readers.csv_rows(content)) for content in files.values())
        else:
            assert body["records"] == members == len(readers.csv_rows(data))
    multi = alice.http.post("/api/storage/export-multi-agent").json()
    [row] = readers.csv_rows(alice.http.get(multi["download_url"]).content)
    assert float(row["structure_score"]) == 45 and row["request_id"] == session.request_id


def test_seed_001_all_users_needs_an_admin(alice: User, system: System) -> None:
    assert alice.http.post("/api/storage/export-temporal", params={"all_users": "true"}).status_code == 403
    admin = system.client(admin=True)
    try:
        assert (
            admin.http.post("/api/storage/export-temporal", params={"all_users": "true"}).status_code == 200
        )
    finally:
        admin.http.close()
