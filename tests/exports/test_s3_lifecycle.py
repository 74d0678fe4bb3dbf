"""A system whose export bytes live in S3 (a real SeaweedFS) and whose cleanup runs every half
second with no grace: share links redirect to a fresh presigned URL on every use, and an expired
export's row and object are removed by the background loop, while renders in flight are left alone."""

from __future__ import annotations

import gzip
import hashlib
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from tests.exports.conftest import create_session, export_ok
from tests.support.s3 import S3Server
from tests.support.system import System, User

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def s3_system(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # A database of its own: this system's cleanup runs every half second with no grace, and its
    # rows point at bytes in the bucket, neither of which the shared database should see.
    directory = Path(tmp_path_factory.mktemp("s3-system"))
    with System.on_own_database(
        directory,
        DEPOT_BLOB_STORE=f"s3://{s3_server.bucket}",
        DEPOT_S3_ENDPOINT_URL=s3_server.endpoint_url,
        DEPOT_EXPORT_SWEEP_INTERVAL_SECONDS="0.5",
        DEPOT_EXPORT_SWEEP_GRACE_SECONDS="0",
        **s3_server.credentials(),
    ) as system:
        yield system


@pytest.fixture
def dora(s3_system: System) -> Iterator[User]:
    user = s3_system.client()
    yield user
    user.http.close()


def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    """What a browser gets from the URL (no bearer token; bytes as sent)."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.read(), dict(reply.headers)


def test_a_share_link_redirects_to_a_fresh_presigned_url_on_every_use(dora: User, s3_system: System) -> None:
    session = create_session(dora)
    body = export_ok(dora, f"prompts/{session.id}", "csv")
    link = dora.http.post(f"/api/v1/exports/{body['id']}/links", json={"expires_in": 60}).json()
    locations = []
    with s3_system.anonymous() as anonymous:
        for _ in range(2):
            reply = anonymous.get(f"/s/{link['token']}", headers={"Accept-Encoding": "gzip"})
            assert reply.status_code == 302, reply.text
            locations.append(reply.headers["location"])
            time.sleep(1.1)  # signatures carry the second they were made
        plain = anonymous.get(f"/s/{link['token']}", headers={"Accept-Encoding": "identity"})
    assert locations[0] != locations[1], "minted anew each time"
    for location in locations:
        assert not location.startswith(s3_system.url)
        assert int(parse_qs(urlsplit(location).query)["X-Amz-Expires"][0]) <= 60, "never beyond the link"
        status, packed, headers = fetch(location)
        assert (status, headers["Content-Encoding"]) == (200, "gzip")
        assert hashlib.sha256(gzip.decompress(packed)).hexdigest() == body["sha256"]
    assert plain.status_code == 200, "a client that takes no gzip gets decoded bytes through the gateway"
    assert hashlib.sha256(plain.content).hexdigest() == body["sha256"]
    [listed] = dora.http.get(f"/api/v1/exports/{body['id']}/links").json()["items"]
    assert listed["download_count"] == 3
    assert dora.http.delete(f"/api/v1/exports/{body['id']}/links/{link['token']}").status_code == 204
    with s3_system.anonymous() as anonymous:
        assert anonymous.get(f"/s/{link['token']}").status_code == 404, "a revoked link mints no more URLs"


def test_a_binary_export_redirects_to_its_bytes_as_stored(dora: User, s3_system: System) -> None:
    body = export_ok(dora, f"prompts/{create_session(dora).id}", "xlsx")
    link = dora.http.post(f"/api/v1/exports/{body['id']}/links", json={}).json()
    with s3_system.anonymous() as anonymous:
        reply = anonymous.get(f"/s/{link['token']}")
    assert reply.status_code == 302
    status, data, headers = fetch(reply.headers["location"])
    assert status == 200 and "Content-Encoding" not in headers
    assert hashlib.sha256(data).hexdigest() == body["sha256"]
    assert headers["Content-Disposition"].startswith('attachment; filename="prompt-')


def test_the_background_cleanup_removes_an_expired_export_and_its_object(
    dora: User, s3_system: System, s3_server: S3Server
) -> None:
    kept = export_ok(dora, f"prompts/{create_session(dora).id}", "json")
    gone = export_ok(dora, f"prompts/{create_session(dora).id}", "json")
    assert gone["expires_at"] is not None
    client = s3_server.client()
    client.head_object(Bucket=s3_server.bucket, Key=f"exports/{gone['id']}")
    with psycopg.connect(s3_system.database.url, autocommit=True) as conn:  # the clock moves on
        conn.execute("UPDATE exports.exports SET expires_at = now() WHERE id = %s", (gone["id"],))
    assert dora.http.get(f"/api/v1/exports/{gone['id']}").status_code == 404, "expired is gone at once"

    def stored_keys() -> set[str]:
        listed = client.list_objects_v2(Bucket=s3_server.bucket, Prefix="exports/").get("Contents", [])
        return {item["Key"] for item in listed}

    def row_exists() -> bool:
        with psycopg.connect(s3_system.database.url) as conn:
            return (
                conn.execute("SELECT 1 FROM exports.exports WHERE id = %s", (gone["id"],)).fetchone()
                is not None
            )

    deadline = time.monotonic() + 30
    while row_exists() or f"exports/{gone['id']}" in (keys := stored_keys()):
        assert time.monotonic() < deadline, (
            "the cleanup loop did not remove the expired export and its object"
        )
        time.sleep(0.1)
    client.close()
    assert f"exports/{kept['id']}" in keys, "a live export keeps its bytes, even with no grace"
    assert dora.http.get(kept["content_url"]).status_code == 200
