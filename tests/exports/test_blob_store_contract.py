"""One contract for every blob store (Vizier's pattern): postgres, local and S3 run the same tests.

The S3 store runs against a real SeaweedFS server started here (bound to 127.0.0.1, stopped by PID),
with the smallest multipart threshold S3 allows, so the multipart path is exercised in seconds.
After the contract: what only one store has (presigned URLs, an unreachable server, symlinks, crashes).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.common.settings import Settings
from services.exports.blobstores import (
    STORE_CHUNK_BYTES,
    BlobNotFound,
    BlobStore,
    PostgresBlobStore,
    open_blob_store,
)
from services.exports.blobstores.local import LocalBlobStore
from services.exports.blobstores.s3 import MIN_PART_BYTES, BlobStoreUnavailable, S3BlobStore
from tests.support.s3 import S3Server

MiB = 1024 * 1024
PART = MIN_PART_BYTES  # the S3 store's multipart threshold in these tests
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Subject:
    """A store under test, and how to find what a failed write of a key left behind in it."""

    name: str
    store: BlobStore
    leftovers: Callable[[str], list[str]]


def s3_store(server: S3Server, **options: Any) -> S3BlobStore:
    """A store on the test server that fails fast when the server is away (one attempt, 1 s connect)."""
    options = {"multipart_threshold": PART, "max_attempts": 1, "connect_timeout": 1.0} | options
    return S3BlobStore(
        server.bucket,
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
        **options,
    )


@pytest.fixture(scope="module", params=["postgres", "local", pytest.param("s3", marks=pytest.mark.s3)])
def subject(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Subject]:
    if request.param == "postgres":
        store: BlobStore = PostgresBlobStore(request.getfixturevalue("database").url)
        yield Subject("postgres", store, lambda key: [])  # one transaction: nothing to leave
    elif request.param == "local":
        directory = tmp_path_factory.mktemp("blobs")
        store = LocalBlobStore(directory)
        yield Subject("local", store, lambda key: [p.name for p in directory.rglob(f".~{Path(key).name}.*")])
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        store, client = s3_store(server), server.client()

        def pending_uploads(key: str) -> list[str]:
            uploads = client.list_multipart_uploads(Bucket=server.bucket, Prefix=key).get("Uploads", [])
            return [upload["UploadId"] for upload in uploads]

        yield Subject("s3", store, pending_uploads)
        client.close()
    store.close()


def new_key(prefix: str = "contract") -> str:
    return f"{prefix}/{uuid.uuid4()}"


def pieces(data: bytes, size: int = 70_001) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def failing(size: int) -> Iterator[bytes]:
    """`size` bytes, then the renderer breaks."""
    yield from pieces(b"p" * size, 64 * 1024)
    raise RuntimeError("renderer broke")


def read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.open(key, start, end))


def fingerprint(data: bytes) -> tuple[int, str]:
    """What a failing assertion prints instead of megabytes: the size and the digest."""
    return len(data), hashlib.sha256(data).hexdigest()


SIZES = {"empty": 0, "small": 11, "multi_chunk": 2 * MiB + 12_345, "multipart": 2 * PART + MiB + 7}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_put_then_open_returns_the_same_bytes_with_their_size_and_digest(subject: Subject, size: int) -> None:
    data, key = os.urandom(size), new_key()
    assert subject.store.put(key, pieces(data)) == fingerprint(data)
    chunks = list(subject.store.open(key))
    assert fingerprint(b"".join(chunks)) == fingerprint(data)
    assert max(map(len, chunks), default=0) <= STORE_CHUNK_BYTES, "chunks stay bounded"
    assert subject.store.exists(key)


RANGED = 2 * STORE_CHUNK_BYTES + 999
RANGES = [
    (0, 10),
    (5, STORE_CHUNK_BYTES + 5),
    (STORE_CHUNK_BYTES, 2 * STORE_CHUNK_BYTES),
    (100, None),
    (0, None),
    (0, 0),
    (7, 7),
    (RANGED - 3, RANGED + 100),
    (RANGED, None),
    (RANGED + 5, None),
    (RANGED + 5, RANGED + 10),
]


@pytest.fixture(scope="module")
def ranged(subject: Subject) -> tuple[str, bytes]:
    data, key = os.urandom(RANGED), new_key()
    subject.store.put(key, [data])
    return key, data


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_ranges_read_exactly_the_bytes_asked_for(
    subject: Subject, ranged: tuple[str, bytes], start: int, end: int | None
) -> None:
    key, data = ranged
    assert fingerprint(read(subject.store, key, start, end)) == fingerprint(data[start:end])


def test_ranges_of_an_empty_blob_read_nothing(subject: Subject) -> None:
    key = new_key()
    subject.store.put(key, [])
    assert [read(subject.store, key, *r) for r in [(0, None), (0, 10), (5, None), (3, 3)]] == [b""] * 4


@pytest.mark.parametrize(("start", "end"), [(-1, None), (-1, 5), (5, 4)])
def test_backward_or_negative_ranges_are_refused(subject: Subject, start: int, end: int | None) -> None:
    key = new_key()
    subject.store.put(key, [b"0123456789"])
    with pytest.raises(ValueError):
        subject.store.open(key, start, end)


@pytest.mark.parametrize("first_size", [13, PART + 1], ids=["small", "multipart"])
def test_put_replaces_what_the_key_held(subject: Subject, first_size: int) -> None:
    key = new_key()
    subject.store.put(key, pieces(os.urandom(first_size)))
    assert subject.store.put(key, [b"second"]) == fingerprint(b"second")
    assert read(subject.store, key) == b"second"


@pytest.mark.parametrize("size", [1000, PART + MiB], ids=["small", "multipart"])
def test_a_put_failing_midway_leaves_nothing_under_a_new_key(subject: Subject, size: int) -> None:
    key = new_key()
    with pytest.raises(RuntimeError, match="renderer broke"):
        subject.store.put(key, failing(size))
    assert not subject.store.exists(key)
    assert key not in {entry.key for entry in subject.store.entries()}
    with pytest.raises(BlobNotFound):
        read(subject.store, key)
    assert subject.leftovers(key) == [], "no temporary file, no pending multipart upload"


@pytest.mark.parametrize("size", [1000, PART + MiB], ids=["small", "multipart"])
def test_a_put_failing_midway_keeps_what_was_there(subject: Subject, size: int) -> None:
    key = new_key()
    subject.store.put(key, [b"kept"])
    with pytest.raises(RuntimeError, match="renderer broke"):
        subject.store.put(key, failing(size))
    assert read(subject.store, key) == b"kept"
    assert subject.leftovers(key) == []


def test_a_deleted_blob_is_gone_and_deleting_twice_is_fine(subject: Subject) -> None:
    key = new_key()
    subject.store.put(key, [b"x"])
    subject.store.delete(key)
    subject.store.delete(key)
    assert not subject.store.exists(key)
    with pytest.raises(BlobNotFound):
        read(subject.store, key)


def test_a_key_never_stored_does_not_exist_and_opens_as_not_found(subject: Subject) -> None:
    key = new_key()
    assert not subject.store.exists(key)
    subject.store.delete(key)
    with pytest.raises(BlobNotFound):
        read(subject.store, key)
    with pytest.raises(BlobNotFound):
        read(subject.store, key, 0, 0)


def test_keys_lists_what_is_stored(subject: Subject) -> None:
    prefix = new_key("listing")
    stored = [f"{prefix}/{name}" for name in ("a", "b/c", "d.csv")]
    for key in stored:
        subject.store.put(key, [key.encode()])
    subject.store.delete(stored[0])
    listed = (entry.key for entry in subject.store.entries())
    assert sorted(k for k in listed if k.startswith(f"{prefix}/")) == stored[1:]


# The store's clock is not this process's (PostgreSQL's, the S3 server's); they agree this closely here.
CLOCK_SLACK = timedelta(seconds=5)


def test_entries_give_each_stored_key_once_with_the_time_it_was_written(subject: Subject) -> None:
    prefix = new_key("aged")
    written = {f"{prefix}/small": [b"x"], f"{prefix}/chunks": pieces(os.urandom(2 * STORE_CHUNK_BYTES + 1))}
    before = datetime.now(UTC) - CLOCK_SLACK
    for key, data in written.items():
        subject.store.put(key, data)
    after = datetime.now(UTC) + CLOCK_SLACK
    subject.store.put(f"{prefix}/gone", [b"y"])
    subject.store.delete(f"{prefix}/gone")
    entries = [entry for entry in subject.store.entries() if entry.key.startswith(f"{prefix}/")]
    assert sorted(entry.key for entry in entries) == sorted(written)
    for entry in entries:
        assert before <= entry.modified_at <= after, (
            f"{entry.key}: {entry.modified_at} not in [{before}, {after}]"
        )
    assert {entry.key for entry in entries} <= {entry.key for entry in subject.store.entries()}


def test_rewriting_a_blob_makes_it_younger(subject: Subject) -> None:
    key = new_key("aged")
    subject.store.put(key, [b"first"])
    [first] = [entry.modified_at for entry in subject.store.entries() if entry.key == key]
    time.sleep(1.1)  # S3 keeps whole seconds
    subject.store.put(key, [b"second"])
    [second] = [entry.modified_at for entry in subject.store.entries() if entry.key == key]
    assert second > first


HOSTILE = [
    "",
    "..",
    "../etc/passwd",
    "/abs/path",
    "a/../b",
    "nul\x00byte",
    "a//b",
    "x" * 300,
    "a\\..\\b",
    "~x",
]
# `check_key` lets these through; two keys naming one path (`a/./b` is `a/b` on disk, and SeaweedFS
# stores `a/` as a folder and drops its bytes), so the local and S3 stores refuse them too.
AMBIGUOUS = ["a/./b", "a/.", "a/", "a/b/"]


@pytest.mark.parametrize("bad", HOSTILE + AMBIGUOUS)
def test_keys_that_could_escape_or_collide_are_refused(subject: Subject, bad: str) -> None:
    for use in (
        lambda: subject.store.put(bad, [b"x"]),
        lambda: subject.store.open(bad),
        lambda: subject.store.exists(bad),
        lambda: subject.store.delete(bad),
    ):
        with pytest.raises(ValueError):
            use()


@pytest.mark.s3
def test_open_blob_store_builds_each_store(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = open_blob_store(Settings(blob_store=f"local:{tmp_path / 'blobs'}"))
    assert isinstance(local, LocalBlobStore) and local.directory == (tmp_path / "blobs").resolve()
    for name, value in s3_server.credentials().items():
        monkeypatch.setenv(name, value)
    s3 = open_blob_store(
        Settings(blob_store=f"s3://{s3_server.bucket}", s3_endpoint_url=s3_server.endpoint_url)
    )
    assert isinstance(s3, S3BlobStore)
    key = new_key()
    s3.put(key, [b"through the settings"])
    assert read(s3, key) == b"through the settings"
    s3.close()


@pytest.mark.parametrize(
    "spec", ["", "local:", "s3://", "s3://Bad_Bucket", "s3://b", "ftp://bucket", "Postgres"]
)
def test_open_blob_store_refuses_what_it_does_not_know(spec: str) -> None:
    with pytest.raises(ValueError):
        open_blob_store(Settings(blob_store=spec))


# --- S3 only: presigned URLs and an unreachable server --------------------------------------------


@pytest.fixture(scope="module")
def s3(s3_server: S3Server) -> Iterator[S3BlobStore]:
    store = s3_store(s3_server, presign_expiry_seconds=120)
    yield store
    store.close()


def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


@pytest.mark.s3
def test_a_presigned_url_downloads_the_bytes_over_plain_http(s3: S3BlobStore) -> None:
    data, key = os.urandom(300_000), new_key()
    s3.put(key, [data])
    url = s3.presigned_url(key, filename='Résumé "q1".csv', media_type="text/csv")
    status, body, headers = fetch(url)
    assert (status, fingerprint(body)) == (200, fingerprint(data))
    assert headers["Content-Type"] == "text/csv"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"Resume _q1_.csv\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22q1%22.csv"
    )
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["120"], "the configured expiry"


@pytest.mark.s3
def test_a_presigned_url_stops_working_when_it_expires(s3: S3BlobStore) -> None:
    key = new_key()
    s3.put(key, [b"short-lived"])
    url = s3.presigned_url(key, 1)
    deadline, status = time.monotonic() + 15, 200
    while status == 200 and time.monotonic() < deadline:
        status, _, _ = fetch(url)
        time.sleep(0.2)
    assert status == 403, f"expected 403 once expired, got {status}"
    assert fetch(s3.presigned_url(key, 60))[:2] == (200, b"short-lived"), "a fresh URL still works"


@pytest.mark.s3
@pytest.mark.parametrize("expires_in", [0, -5, 7 * 24 * 3600 + 1])
def test_a_presigned_url_lives_one_second_to_seven_days(s3: S3BlobStore, expires_in: int) -> None:
    with pytest.raises(ValueError):
        s3.presigned_url("any/key", expires_in)


@pytest.mark.s3
@pytest.mark.parametrize("concurrency", [1, 2])
def test_parts_uploaded_at_once_or_one_by_one_assemble_in_order(
    s3_server: S3Server, concurrency: int
) -> None:
    data, key = os.urandom(3 * PART + 12_345), new_key()
    store = s3_store(s3_server, upload_concurrency=concurrency)
    assert store.put(key, pieces(data)) == fingerprint(data)
    assert fingerprint(read(store, key)) == fingerprint(data)
    store.close()


def assert_unavailable(use: Callable[[], object]) -> None:
    with pytest.raises(BlobStoreUnavailable) as raised:
        use()
    assert (raised.value.code, raised.value.reason) == ("UNAVAILABLE", "BLOB_STORE_UNAVAILABLE")


@pytest.mark.s3
def test_a_stopped_server_is_unavailable_and_a_restarted_one_has_lost_nothing(
    s3: S3BlobStore, s3_server: S3Server
) -> None:
    kept = new_key()
    s3.put(kept, [b"stored before the outage"])
    s3_server.stop(kill=True)
    try:
        assert_unavailable(lambda: s3.put(new_key(), [b"small"]))
        assert_unavailable(lambda: s3.put(new_key(), pieces(os.urandom(PART + 1))))
        assert_unavailable(lambda: read(s3, kept))
        assert_unavailable(lambda: read(s3, kept, 0, 0))
        assert_unavailable(lambda: s3.exists(kept))
        assert_unavailable(lambda: [entry.key for entry in s3.entries()])
        assert_unavailable(lambda: s3.delete(kept))
    finally:
        s3_server.start()
    assert read(s3, kept) == b"stored before the outage"
    key = new_key()
    s3.put(key, [b"after"])
    assert read(s3, key) == b"after"


@pytest.mark.s3
def test_a_server_lost_mid_upload_leaves_no_object_and_the_upload_can_be_swept(
    s3: S3BlobStore, s3_server: S3Server
) -> None:
    key = new_key()

    def stop_after_the_first_part() -> Iterator[bytes]:
        yield from pieces(os.urandom(PART), 64 * 1024)
        s3_server.stop(kill=True)  # the upload is started; its parts and its abort cannot finish
        yield os.urandom(MiB)

    try:
        assert_unavailable(lambda: s3.put(key, stop_after_the_first_part()))
    finally:
        s3_server.start()
    assert not s3.exists(key)
    client = s3_server.client()
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])] == [key]
    assert s3.abort_incomplete_uploads(older_than_seconds=3600) == 0, "a recent upload may still be running"
    assert s3.abort_incomplete_uploads(older_than_seconds=0) == 1
    assert client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []
    client.close()


# --- local only: symlinks and crashed writers ------------------------------------------------------


def test_local_keys_cannot_leave_the_directory_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    store = LocalBlobStore(tmp_path / "blobs")
    (store.directory / "linked-folder").symlink_to(outside)
    (store.directory / "linked-file").symlink_to(outside / "secret")
    for use in (
        lambda: store.put("linked-folder/new", [b"x"]),
        lambda: store.open("linked-folder/secret"),
        lambda: store.delete("linked-folder/secret"),
        lambda: store.open("linked-file"),
    ):
        with pytest.raises(ValueError):
            use()
    assert not store.exists("linked-file") and [entry.key for entry in store.entries()] == []
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"


def test_local_store_refuses_a_key_that_is_the_folder_of_another(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("a", [b"blob"])
    store.put("b/c", [b"blob"])
    with pytest.raises(ValueError):
        store.put("a/x", [b"x"])
    with pytest.raises(ValueError):
        store.put("b", [b"x"])
    assert sorted(entry.key for entry in store.entries()) == ["a", "b/c"]
    assert not store.exists("b")


CRASHING_WRITER = """
import os, sys
from services.exports.blobstores.local import LocalBlobStore

def chunks():
    yield b"half of it" * 1000
    os._exit(3)  # the process dies mid-write: no cleanup runs

LocalBlobStore(sys.argv[1]).put("crashed/blob", chunks())
"""


def test_local_crashed_write_leaves_only_a_temporary_that_is_no_key_and_is_swept(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("crashed/blob", [b"the previous version"])
    writer = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(tmp_path)], cwd=REPO, timeout=60)
    assert writer.returncode == 3
    assert len(list((tmp_path / "crashed").glob(".~blob.*"))) == 1, "the crash left its temporary file"
    assert [entry.key for entry in store.entries()] == ["crashed/blob"]
    assert read(store, "crashed/blob") == b"the previous version"
    assert store.remove_abandoned_temporaries(older_than_seconds=3600) == 0, "it may still be writing"
    assert store.remove_abandoned_temporaries(older_than_seconds=0) == 1
    assert sorted(p.name for p in (tmp_path / "crashed").iterdir()) == ["blob"]
