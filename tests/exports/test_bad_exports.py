"""Bad export requests answer with the right status and say what was wrong; failed renders stay failed."""

from __future__ import annotations

import uuid

import pytest

from tests.exports.conftest import create_session, error_code, export, export_ok
from tests.support.system import System, User


def test_unknown_format_is_400_listing_the_allowed_ones(alice: User) -> None:
    reply = export(alice, "datasets/temporal", "exe")
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]["message"]
    assert all(fmt in message for fmt in ("json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx"))


def test_unknown_source_kind_or_dataset_is_400_listing_the_allowed_ones(alice: User) -> None:
    reply = export(alice, "invoices/12", "json")
    assert reply.status_code == 400, reply.text
    assert all(
        kind in reply.json()["error"]["message"] for kind in ("prompts/", "datasets/", "artifacts/", "chats/")
    )
    reply = export(alice, "datasets/salaries", "csv")
    assert reply.status_code == 400
    assert "multi-agent" in reply.json()["error"]["message"]


def test_zip_is_only_for_chats(alice: User) -> None:
    session = create_session(alice, feedback=False)
    assert export(alice, f"prompts/{session.id}", "zip").status_code == 400


def test_missing_or_someone_elses_source_is_404(alice: User, bob: User) -> None:
    session = create_session(alice, feedback=False)
    assert export(bob, f"prompts/{session.id}", "json").status_code == 404
    assert export(alice, f"prompts/{uuid.uuid4()}", "json").status_code == 404
    assert export(alice, "prompts/not-a-uuid", "json").status_code == 404


def test_every_users_dataset_is_for_admins_only(alice: User, system: System) -> None:
    session = create_session(alice)
    reply = export(alice, "datasets/temporal", "csv", all_users=True)
    assert reply.status_code == 403, reply.text
    assert error_code(reply) == "PERMISSION_DENIED"
    admin = system.client(admin=True)
    try:
        body = export_ok(admin, "datasets/temporal", "csv", all_users=True)
        data = admin.http.get(f"/api/v1/exports/{body['id']}/content").text
        assert f"Syntax {session.marker}" in data and alice.id in data
    finally:
        admin.http.close()


@pytest.mark.parametrize(
    ("source", "options", "fragment"),
    [
        ("datasets/temporal", {"csv_mode": "loud"}, "csv_mode"),
        ("datasets/temporal", {"colour": "red"}, "colour"),
        ("datasets/temporal", {"include_workflow": True}, "include_workflow"),
        ("prompts/{id}", {"include_workflow": "yes"}, "include_workflow"),
        ("prompts/{id}", {"all_users": True}, "all_users"),
    ],
)
def test_unknown_options_and_values_out_of_range_are_400(
    alice: User, source: str, options: dict[str, object], fragment: str
) -> None:
    session = create_session(alice, feedback=False)
    reply = export(alice, source.format(id=session.id), "csv", **options)
    assert reply.status_code == 400, reply.text
    assert fragment in reply.json()["error"]["message"]


def test_bad_bodies_and_page_sizes_are_400(alice: User) -> None:
    assert alice.http.post("/api/v1/exports", json={"source": "datasets/temporal"}).status_code == 400
    assert (
        alice.http.post("/api/v1/exports", json={"source": "x", "format": "csv", "extra": 1}).status_code
        == 400
    )
    assert alice.http.get("/api/v1/exports", params={"page_size": -1}).status_code == 400
    assert alice.http.get("/api/v1/exports", params={"page_token": "garbage"}).status_code == 400
    assert alice.http.get("/api/v1/exports", params={"source": "nope/1"}).status_code == 400


def test_a_failed_render_leaves_a_failed_export_without_bytes(alice: User) -> None:
    prompt = alice.create_prompt(original_text="private use \ue000 character")
    reply = export(alice, f"prompts/{prompt['id']}", "pdf")
    assert reply.status_code == 412, reply.text
    assert "U+E000" in reply.json()["error"]["message"]
    [failed] = alice.http.get("/api/v1/exports", params={"source": f"prompts/{prompt['id']}"}).json()["items"]
    assert failed["status"] == "failed" and "U+E000" in failed["error"]
    assert failed["sha256"] is None and failed["size_bytes"] == 0 and failed["content_url"] is None
    assert alice.http.get(f"/api/v1/exports/{failed['id']}/content").status_code == 412
    again = export(alice, f"prompts/{prompt['id']}", "pdf")
    assert again.status_code == 412, "a failed rendering is tried again, never served"
    statuses = [e["status"] for e in alice.http.get("/api/v1/exports").json()["items"]]
    assert statuses == ["failed", "failed"]
    assert export(alice, f"prompts/{prompt['id']}", "docx").status_code == 201
