"""The export lifecycle end to end through the gateway: compression, history, statistics, share
links revoked and expired, download counts, and seed 004's file paths."""

from __future__ import annotations

import gzip
import hashlib
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from tests.exports.conftest import create_session, error_code, export, export_ok, scores
from tests.support.system import System, User

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def raw(user: User, path: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """A response and its body exactly as sent, not decoded."""
    with user.http.stream("GET", path, headers=headers) as reply:
        return reply, b"".join(reply.iter_raw())


def move_in_time(system: System, statement: str, *params: Any) -> None:
    """Fault injection: what time would do (a link or export reaching its end)."""
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        conn.execute(statement, params)


@pytest.mark.parametrize("fmt", ["csv", "json", "markdown"])
def test_text_exports_are_stored_gzipped_and_served_as_gzip_or_plain_with_one_etag(
    alice: User, fmt: str
) -> None:
    session = create_session(alice)
    body = export_ok(alice, f"prompts/{session.id}", fmt)
    assert body["content_encoding"] == "gzip" and 0 < body["stored_bytes"] < body["size_bytes"]
    zipped, packed = raw(alice, body["content_url"], GZIP)
    plain, content = raw(alice, body["content_url"], IDENTITY)
    assert (zipped.status_code, plain.status_code) == (200, 200)
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert gzip.decompress(packed) == content and session.marker.encode() in content
    assert hashlib.sha256(content).hexdigest() == body["sha256"]
    assert zipped.headers["etag"] == plain.headers["etag"] == f'"{body["sha256"]}"'
    assert int(zipped.headers["content-length"]) == len(packed) == body["stored_bytes"]
    assert int(plain.headers["content-length"]) == len(content) == body["size_bytes"]
    assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    refused, _ = raw(alice, body["content_url"], {"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers, "q=0 refuses gzip"


def test_binary_exports_are_stored_as_they_are(alice: User) -> None:
    session = create_session(alice)
    body = export_ok(alice, f"prompts/{session.id}", "xlsx")
    assert body["content_encoding"] is None and body["stored_bytes"] == body["size_bytes"]
    reply, data = raw(alice, body["content_url"], GZIP)
    assert "content-encoding" not in reply.headers
    assert hashlib.sha256(data).hexdigest() == body["sha256"]


def test_range_requests_get_the_whole_export(alice: User) -> None:
    session = create_session(alice)
    body = export_ok(alice, f"prompts/{session.id}", "text")
    reply, data = raw(alice, body["content_url"], {**IDENTITY, "Range": "bytes=0-9"})
    assert reply.status_code == 200 and reply.headers["accept-ranges"] == "none"
    assert len(data) == body["size_bytes"] > 10


def test_history_lists_every_rendering_of_the_source_newest_first(alice: User) -> None:
    session = create_session(alice, feedback=False)
    source = f"prompts/{session.id}"
    first = export_ok(alice, source, "markdown")
    export_ok(alice, source, "json")  # another format: another history
    alice.http.put(f"/api/v1/prompts/{session.id}/versions/3/score", json=scores(10)).raise_for_status()
    second = export_ok(alice, source, "markdown")
    alice.http.put(f"/api/v1/prompts/{session.id}/versions/2/score", json=scores(2)).raise_for_status()
    third = export_ok(alice, source, "markdown")
    expected = [third["id"], second["id"], first["id"]]
    for export_id in expected:
        history = alice.http.get(f"/api/v1/exports/{export_id}/history").json()
        assert [e["id"] for e in history["items"]] == expected
    page = alice.http.get(f"/api/v1/exports/{first['id']}/history", params={"page_size": 2}).json()
    rest = alice.http.get(
        f"/api/v1/exports/{first['id']}/history",
        params={"page_size": 2, "page_token": page["next_page_token"]},
    ).json()
    assert [e["id"] for e in page["items"] + rest["items"]] == expected
    revisions = [e["source_revision"] for e in page["items"] + rest["items"]]
    assert len(set(revisions)) == 3


def test_history_of_someone_elses_export_is_not_found(alice: User, bob: User) -> None:
    body = export_ok(alice, f"prompts/{create_session(alice).id}", "json")
    reply = bob.http.get(f"/api/v1/exports/{body['id']}/history")
    assert reply.status_code == 404 and error_code(reply) == "NOT_FOUND"


def test_stats_count_exports_bytes_hits_and_downloads_per_format(
    alice: User, bob: User, system: System
) -> None:
    session = create_session(alice)
    csv = export_ok(alice, f"prompts/{session.id}", "csv")
    for _ in range(3):
        export_ok(alice, f"prompts/{session.id}", "csv")  # cache hits
    pdf = export_ok(alice, f"prompts/{session.id}", "pdf")
    for _ in range(2):
        raw(alice, csv["content_url"], GZIP)
    link = alice.http.post(f"/api/v1/exports/{pdf['id']}/links", json={}).json()
    with system.anonymous() as anonymous:
        assert anonymous.get(f"/s/{link['token']}").status_code == 200
    export_ok(bob, f"prompts/{create_session(bob).id}", "csv")
    stats = alice.http.get("/api/v1/exports/stats").json()
    assert stats["scope"] == "own" and sorted(stats["formats"]) == ["csv", "pdf"]
    mine = stats["formats"]["csv"]
    assert (mine["exports"], mine["cache_hits"], mine["cache_hit_rate"]) == (1, 3, 0.75)
    assert (mine["size_bytes"], mine["stored_bytes"]) == (csv["size_bytes"], csv["stored_bytes"])
    assert (mine["downloads"], mine["link_downloads"]) == (2, 0)
    assert (stats["formats"]["pdf"]["downloads"], stats["formats"]["pdf"]["link_downloads"]) == (1, 1)
    assert stats["total"]["exports"] == 2 and stats["total"]["downloads"] == 3
    admin = system.client(admin=True)
    try:
        every = admin.http.get("/api/v1/exports/stats").json()
    finally:
        admin.http.close()
    assert every["scope"] == "all_users"
    assert every["formats"]["csv"]["exports"] >= 2, "alice's and bob's"
    assert every["total"]["downloads"] >= stats["total"]["downloads"]


def not_found_bodies(system: System, *tokens: str) -> list[tuple[int, Any]]:
    with system.anonymous() as anonymous:
        return [(r.status_code, r.json()) for r in (anonymous.get(f"/s/{t}") for t in tokens)]


def test_revoked_expired_and_unknown_links_are_the_same_404(alice: User, system: System) -> None:
    body = export_ok(alice, f"prompts/{create_session(alice).id}", "json")
    revoked, expired, kept = (
        alice.http.post(f"/api/v1/exports/{body['id']}/links", json={"expires_in": 600}).json()
        for _ in range(3)
    )
    assert len(revoked["token"]) * 6 >= 128, "at least 128 random bits (URL-safe base64: 6 bits a character)"
    assert alice.http.delete(f"/api/v1/exports/{body['id']}/links/{revoked['token']}").status_code == 204
    move_in_time(
        system,
        "UPDATE exports.share_links SET expires_at = now() - interval '1 second' WHERE expires_at = %s::timestamptz",
        expired["expires_at"],
    )
    unknown = "A" * len(kept["token"])
    answers = not_found_bodies(system, revoked["token"], expired["token"], unknown)
    assert answers[0] == answers[1] == answers[2] and answers[0][0] == 404, answers
    with system.anonymous() as anonymous:
        assert anonymous.get(f"/s/{kept['token']}").status_code == 200
        assert anonymous.delete(f"/api/v1/exports/{body['id']}/links/{kept['token']}").status_code == 401


def test_links_are_listed_with_their_downloads_and_revoked_by_id(
    alice: User, bob: User, system: System
) -> None:
    body = export_ok(alice, f"prompts/{create_session(alice).id}", "json")
    link = alice.http.post(f"/api/v1/exports/{body['id']}/links", json={"expires_in": 60}).json()
    with system.anonymous() as anonymous:
        for _ in range(3):
            assert anonymous.get(f"/s/{link['token']}", headers=GZIP).status_code == 200
    raw(alice, body["content_url"], GZIP)
    [listed] = alice.http.get(f"/api/v1/exports/{body['id']}/links").json()["items"]
    assert listed["id"] == hashlib.sha256(link["token"].encode()).hexdigest() and "token" not in listed
    assert (listed["download_count"], listed["revoked_at"]) == (3, None) and listed["last_downloaded_at"]
    counted = alice.http.get(f"/api/v1/exports/{body['id']}").json()
    assert counted["download_count"] == 4, "three through the link, one by the owner"
    assert bob.http.delete(f"/api/v1/exports/{body['id']}/links/{listed['id']}").status_code == 404
    assert alice.http.delete(f"/api/v1/exports/{body['id']}/links/{listed['id']}").status_code == 204
    [revoked] = alice.http.get(f"/api/v1/exports/{body['id']}/links").json()["items"]
    assert revoked["revoked_at"] is not None
    assert not_found_bodies(system, link["token"])[0][0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "exports/%2e%2e/%2e%2e/etc/passwd",
        "exports/%252e%252e/secret",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "exports/a%00b",
        "exports\\..\\secret",
        "exports//x",
        "C:%5Cwindows",
    ],
)
def test_seed_004_paths_that_could_escape_are_refused(alice: User, path: str) -> None:
    reply = alice.http.get(f"/api/exports/{path}")
    assert reply.status_code == 400 and error_code(reply) == "INVALID_ARGUMENT", (path, reply.text)


def test_seed_004_paths_serve_the_callers_export(alice: User, bob: User) -> None:
    body = export_ok(alice, f"prompts/{create_session(alice).id}", "docx")
    for path in (f"exports/{body['id']}", f"exports/{alice.id}/{body['id']}.docx", body["id"]):
        reply = alice.http.get(f"/api/exports/{path}")
        assert reply.status_code == 200, (path, reply.text)
        assert hashlib.sha256(reply.content).hexdigest() == body["sha256"]
    assert bob.http.get(f"/api/exports/exports/{body['id']}").status_code == 404
    assert alice.http.get(f"/api/exports/exports/{uuid.uuid4()}").status_code == 404
    assert alice.http.get("/api/exports/exports/not-an-export.csv").status_code == 404


def test_an_expired_export_is_gone_at_once_and_a_new_request_renders_it_again(
    alice: User, system: System
) -> None:
    source = f"prompts/{create_session(alice).id}"
    old = export_ok(alice, source, "json")
    assert old["expires_at"], "a completed export carries its expiry"
    link = alice.http.post(f"/api/v1/exports/{old['id']}/links", json={"expires_in": 600}).json()
    move_in_time(
        system, "UPDATE exports.exports SET expires_at = now() - interval '1 second' WHERE id = %s", old["id"]
    )
    # Before any cleanup pass has run: the export, its bytes and its link are gone to everyone.
    assert alice.http.get(f"/api/v1/exports/{old['id']}").status_code == 404
    assert alice.http.get(f"/api/v1/exports/{old['id']}/content").status_code == 404
    with system.anonymous() as anonymous:
        assert anonymous.get(f"/s/{link['token']}").status_code == 404
    again = export(alice, source, "json")
    assert again.status_code == 201, again.text  # rendered anew, not the expired one reused
    assert again.json()["id"] != old["id"]
    assert alice.http.get(f"/api/v1/exports/{again.json()['id']}/content").status_code == 200
