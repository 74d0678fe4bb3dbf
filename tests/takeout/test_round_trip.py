"""The round trip, on a fresh deployment whose bytes live in S3: takeout → restore into another user
→ takeout again gives the same manifest apart from ids and times, and a second restore adds nothing.
Also the upload limit of that deployment: 413 past it, declared or streamed, and nothing kept."""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest

from tests.support.s3 import S3Server
from tests.support.system import System, User
from tests.takeout.conftest import IMPORT_LIMIT_BYTES
from tests.takeout.generated import account
from tests.takeout.support import build, entries_of, manifest_of, restore, restored, small_account, takeout
from tests.takeout.test_restore import normalised

pytestmark = pytest.mark.s3


@pytest.fixture
def carol(fresh_s3_system: System) -> Iterator[User]:
    user = fresh_s3_system.client()
    yield user
    user.http.close()


def _manifest_shape(archive: bytes) -> tuple[collections.Counter[str], set[tuple[str, str, int]]]:
    """Kinds counted, and every file's path, sha256 and size (bytes must come back exactly)."""
    entries = manifest_of(archive)["entries"]
    kinds = collections.Counter(e["kind"] for e in entries)
    files = {(e["path"], e["sha256"], e["size_bytes"]) for e in entries if e["kind"] == "file"}
    return kinds, files


def test_round_trip_on_generated_data_gives_the_same_takeout(
    system: System, carol: User, request: pytest.FixtureRequest
) -> None:
    """--long: several seeds, hundreds of prompts and more bytes."""
    long = request.config.getoption("--long")
    for seed in [7, 1234, 99] if long else [7]:
        _round_trip(system.client(), carol.system.client(), seed=seed, long=long)


def _round_trip(alice: User, carol: User, *, seed: int, long: bool) -> None:
    made = account(
        alice, seed=seed, prompts=300 if long else 30, file_bytes=(24 if long else 5) * 1024 * 1024
    )
    first = takeout(alice)
    job = restored(carol, first, deadline=600)
    assert job["status"] == "completed", job["errors"]
    assert job["errors"] == [] and job["counts"] == made, job
    second = takeout(carol)
    assert _manifest_shape(second) == _manifest_shape(first)
    assert normalised(second) == normalised(first)
    again = restored(carol, first, deadline=600)
    assert again["counts"] == dict.fromkeys(made, 0), again
    assert normalised(takeout(carol)) == normalised(first)


def test_an_upload_over_the_limit_is_413_and_nothing_is_kept(carol: User) -> None:
    body = b"PK\x03\x04" + b"\0" * IMPORT_LIMIT_BYTES
    reply = restore(carol, body)
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"]["code"] == "RESOURCE_EXHAUSTED"

    def streamed() -> Iterator[bytes]:
        yield b"PK\x03\x04"
        for _ in range(IMPORT_LIMIT_BYTES // (1024 * 1024) + 2):
            yield b"\0" * (1024 * 1024)

    reply = carol.http.post(
        "/api/v1/imports", content=streamed(), headers={"content-type": "application/zip"}
    )
    assert "content-length" not in reply.request.headers
    assert reply.status_code == 413, reply.text


def _import_keys(s3_server: S3Server) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix="imports/")
    return [item["Key"] for item in listed.get("Contents", [])]


def test_an_import_leaves_no_upload_in_the_bucket_whether_it_completes_or_is_refused(
    carol: User, s3_server: S3Server
) -> None:
    small_account(carol)
    archive = takeout(carol)
    other = carol.system.client()
    assert restored(other, archive)["status"] == "completed"
    entries = entries_of(archive)
    manifest = manifest_of(archive)
    tampered = [(path, b"x" + data if path.endswith("notes.md") else data) for path, data in entries.items()]
    job = restored(carol.system.client(), build(tampered, manifest=manifest))
    assert job["status"] == "failed", job
    assert _import_keys(s3_server) == []
