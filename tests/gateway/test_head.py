"""HEAD on every GET route: the same status and headers as the GET, and no body (RFC 9110 §9.3.2)."""

from __future__ import annotations

import httpx
import pytest

from tests.exports.conftest import create_session, export_ok
from tests.support.system import System, User

# Headers a server sets per response, not per representation.
PER_RESPONSE = {"date"}


def same_answer(user: User, path: str, **headers: str) -> tuple[httpx.Response, httpx.Response]:
    """The GET and the HEAD of one path; asserts HEAD's status and headers are GET's, with no body."""
    got = user.http.get(path, headers=headers)
    head = user.http.head(path, headers=headers)
    assert head.status_code == got.status_code, f"GET {got.status_code}, HEAD {head.status_code}: {head.text}"
    expected = {k: v for k, v in got.headers.items() if k not in PER_RESPONSE}
    seen = {k: v for k, v in head.headers.items() if k not in PER_RESPONSE}
    assert seen == expected, f"GET headers {expected}\nHEAD headers {seen}"
    assert head.content == b"", head.content[:200]
    return got, head


def test_head_on_a_json_route_answers_like_get_without_a_body(alice: User) -> None:
    prompt = alice.create_prompt()
    got, head = same_answer(alice, f"/api/v1/prompts/{prompt['id']}")
    assert got.status_code == 200
    assert int(head.headers["content-length"]) == len(got.content) > 0


def test_head_on_a_file_download_announces_its_length_without_sending_it(alice: User) -> None:
    data = b"0123456789" * 100_000
    assert alice.http.put("/api/v1/chats/head/files/big.bin", content=data).status_code == 201
    got, head = same_answer(alice, "/api/v1/chats/head/files/big.bin")
    assert got.status_code == 200 and got.content == data
    assert head.headers["content-length"] == str(len(data))
    assert head.headers["etag"] == got.headers["etag"]
    partial, _ = same_answer(alice, "/api/v1/chats/head/files/big.bin", range="bytes=10-19")
    assert partial.status_code == 206 and partial.content == data[10:20]


def test_head_on_an_export_download_answers_like_get_without_a_body(alice: User) -> None:
    session = create_session(alice, feedback=False)
    export = export_ok(alice, f"prompts/{session.id}", "pdf")
    got, head = same_answer(alice, f"/api/v1/exports/{export['id']}/content")
    assert got.status_code == 200 and head.headers["content-length"] == str(len(got.content))
    same_answer(alice, f"/api/v1/exports/{export['id']}/content", **{"accept-encoding": "identity"})


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/v1/prompts/not-a-prompt", "/no/such/route"])
def test_head_on_health_and_error_routes_answers_like_get(system: System, path: str) -> None:
    user = system.client()
    same_answer(user, path)


def test_head_on_a_route_without_get_is_405(alice: User) -> None:
    assert alice.http.head("/api/storage/export-all").status_code == 405


def test_a_connection_serves_requests_after_a_head(system: System, alice: User) -> None:
    """A HEAD's answer ends where its headers end: the next request on the connection is read cleanly."""
    data = b"x" * 3_000_000
    assert alice.http.put("/api/v1/chats/head/files/after.bin", content=data).status_code == 201
    with httpx.Client(base_url=system.url, headers=alice.http.headers, timeout=30) as http:
        for _ in range(3):
            assert http.head("/api/v1/chats/head/files/after.bin").status_code == 200
            assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/api/v1/chats/head/files/after.bin").content == data
