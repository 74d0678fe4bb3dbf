"""One contract for every blob store (Vizier's pattern): each implementation runs the same suite.

The postgres store runs this suite here; every store (local and S3 too) runs test_blob_store_contract.py.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import pytest

from services.exports.blobstores import STORE_CHUNK_BYTES, BlobNotFound, BlobStore, PostgresBlobStore, rechunk
from tests.support.system import Database


@pytest.fixture(params=["postgres"])
def store(request: pytest.FixtureRequest, database: Database) -> Iterator[BlobStore]:
    blobs = PostgresBlobStore(database.url)
    yield blobs
    blobs.close()


def key() -> str:
    return f"test/{uuid.uuid4()}"


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_put_then_open_returns_the_same_bytes_with_their_size_and_digest(store: BlobStore) -> None:
    data = os.urandom(2 * STORE_CHUNK_BYTES + 12_345)
    name = key()
    size, digest = store.put(name, pieces(data, 70_001))
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert b"".join(store.open(name)) == data
    assert store.exists(name)


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 10), (5, STORE_CHUNK_BYTES + 5), (STORE_CHUNK_BYTES, 2 * STORE_CHUNK_BYTES), (100, None), (0, 0)],
)
def test_ranges_read_exactly_the_bytes_asked_for(store: BlobStore, start: int, end: int | None) -> None:
    data = os.urandom(2 * STORE_CHUNK_BYTES + 999)
    name = key()
    store.put(name, [data])
    assert b"".join(store.open(name, start, end)) == data[start:end]


def test_chunks_stay_bounded_whatever_the_writer_sends(store: BlobStore) -> None:
    name = key()
    store.put(name, [os.urandom(3 * STORE_CHUNK_BYTES + 1)])
    assert max(len(chunk) for chunk in store.open(name)) <= STORE_CHUNK_BYTES


def test_an_empty_blob_exists_and_reads_empty(store: BlobStore) -> None:
    name = key()
    assert store.put(name, []) == (0, hashlib.sha256(b"").hexdigest())
    assert store.exists(name) and b"".join(store.open(name)) == b""


def test_put_replaces_and_a_failed_put_keeps_what_was_there(store: BlobStore) -> None:
    name = key()
    store.put(name, [b"first version"])
    store.put(name, [b"second"])
    assert b"".join(store.open(name)) == b"second"

    def failing() -> Iterator[bytes]:
        yield b"partial" * 1000
        raise RuntimeError("renderer broke")

    with pytest.raises(RuntimeError):
        store.put(name, failing())
    assert b"".join(store.open(name)) == b"second"
    other = key()
    with pytest.raises(RuntimeError):
        store.put(other, failing())
    assert not store.exists(other), "a failed first write leaves no bytes behind"


def test_delete_and_missing_keys(store: BlobStore) -> None:
    name = key()
    store.put(name, [b"x"])
    assert name in {entry.key for entry in store.entries()}
    store.delete(name)
    store.delete(name)  # deleting twice is fine
    assert not store.exists(name) and name not in {entry.key for entry in store.entries()}
    with pytest.raises(BlobNotFound):
        list(store.open(name))


@pytest.mark.parametrize(
    "bad", ["", "../etc/passwd", "/abs/path", "a/../b", "nul\x00byte", "a//b", "x" * 300]
)
def test_keys_that_could_escape_are_refused(store: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.put(bad, [b"x"])
    with pytest.raises(ValueError):
        store.open(bad)


def test_rechunk_makes_fixed_size_pieces() -> None:
    data = bytes(range(256)) * 100
    assert b"".join(rechunk(pieces(data, 7), 1000)) == data
    assert [len(p) for p in rechunk(pieces(data, 7), 1000)][:-1] == [1000] * 25
