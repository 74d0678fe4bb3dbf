"""What every blob store is: the protocol, the key rule and the chunking they share.

Rendering runs in worker threads and boto3 is synchronous, so the interface is too; the async
server bridges it off the event loop. DESIGN.md rule 3: the caller puts the bytes first and
commits the row that points at them afterwards, so no row ever points at missing bytes; bytes
that no row points at (a crash between the two steps) are removed by the sweeper using `entries()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple, Protocol

from services.common.errors import NotFound

STORE_CHUNK_BYTES = 1024 * 1024  # what one stored chunk (and one streamed piece) holds at most
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")


class BlobNotFound(NotFound):
    default_reason = "BLOB_NOT_FOUND"


class BlobEntry(NamedTuple):
    """A stored key and when its bytes were last written (by the store's own clock)."""

    key: str
    modified_at: datetime


def check_key(key: str) -> str:
    """A key every store can hold safely: relative, no `..` segment, no NUL, at most 255 characters."""
    # Empty and "." segments would make two spellings of one file on disk, or a folder in S3.
    if not _KEY.fullmatch(key) or any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobStore(Protocol):
    """Bytes by key, written and read as streams of chunks; never one whole value in memory."""

    def put(self, key: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        """Stores the chunks under `key` (replacing what was there); returns (size, hex sha256)."""
        ...

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Streams bytes [start, end) of a blob; BlobNotFound when the key holds nothing."""
        ...

    def delete(self, key: str) -> None:
        """Removes a blob; removing a missing one is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`."""
        ...

    def entries(self) -> Iterator[BlobEntry]:
        """Every stored key with the time it was written, for a sweeper that removes blobs no
        export points at once they are older than a grace period."""
        ...

    def close(self) -> None:
        """Releases connections or clients."""
        ...


def rechunk(chunks: Iterable[bytes], size: int = STORE_CHUNK_BYTES) -> Iterator[bytes]:
    """Pieces of exactly `size` bytes (the last one shorter) from chunks of any size."""
    buffer = bytearray()
    for chunk in chunks:
        if not buffer and len(chunk) == size:
            yield bytes(chunk)
            continue
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
