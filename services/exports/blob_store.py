"""Where export bytes live: one synchronous, streaming interface and its implementations.

Rendering runs in worker threads and boto3 is synchronous, so the interface is too; the async
server bridges it off the event loop. DESIGN.md rule 3: the caller puts the bytes first and
commits the row that points at them afterwards, so no row ever points at missing bytes; bytes
that no row points at (a crash between the two steps) are removed by a sweeper using `keys()`.

`open_blob_store(settings)` picks the implementation from `DEPOT_BLOB_STORE`: `postgres` (the
default) here; `local:<dir>` and `s3://<bucket>` plug in beside it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple, Protocol

from psycopg import sql
from psycopg_pool import ConnectionPool

from services.common.errors import NotFound
from services.common.settings import Settings

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

    def keys(self) -> Iterator[str]:
        """Every stored key."""
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


class PostgresBlobStore:
    """Blobs as rows of `exports.blob_chunks` (key, seq, offset, size, data), written with COPY."""

    def __init__(self, url: str, *, pool_size: int = 4, schema: str = "exports") -> None:
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"application_name": "depot-exports-blobs"},
            open=True,
            check=ConnectionPool.check_connection,
        )
        self._table = sql.Identifier(schema, "blob_chunks")

    def put(self, key: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        check_key(key)
        digest, size = hashlib.sha256(), 0
        copy_sql = sql.SQL('COPY {} (key, seq, "offset", size, data) FROM STDIN (FORMAT BINARY)').format(
            self._table
        )
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(self._table), (key,))
            with cur.copy(copy_sql) as copy:
                copy.set_types(["varchar", "int4", "int8", "int4", "bytea"])
                seq = 0
                for piece in rechunk(chunks):
                    digest.update(piece)
                    copy.write_row((key, seq, size, len(piece), piece))
                    size += len(piece)
                    seq += 1
                if seq == 0:  # an empty blob still exists
                    copy.write_row((key, 0, 0, 0, b""))
        return size, digest.hexdigest()

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range [{start}, {end})")
        return self._read(key, start, end)

    def _read(self, key: str, start: int, end: int | None) -> Iterator[bytes]:
        query = sql.SQL(
            'SELECT "offset", data FROM {} WHERE key = %(key)s AND "offset" + size > %(start)s'
            ' AND (%(end)s::bigint IS NULL OR "offset" < %(end)s) ORDER BY seq'
        ).format(self._table)
        with self._pool.connection() as conn, conn.transaction():
            if not self._exists(conn, key):
                raise BlobNotFound(f"no blob under key {key!r}")
            # Rows streamed one at a time (single-row mode: no cursor round trips, one chunk in memory)
            # and binary, so bytea arrives as raw bytes rather than hex text twice the size to parse.
            with conn.cursor() as cur:
                for offset, data in cur.stream(query, {"key": key, "start": start, "end": end}, binary=True):
                    lo = max(start - offset, 0)
                    hi = len(data) if end is None else min(end - offset, len(data))
                    if hi > lo:
                        yield bytes(data[lo:hi]) if (lo, hi) != (0, len(data)) else bytes(data)

    def delete(self, key: str) -> None:
        check_key(key)
        with self._pool.connection() as conn:
            conn.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(self._table), (key,))

    def exists(self, key: str) -> bool:
        check_key(key)
        with self._pool.connection() as conn:
            return self._exists(conn, key)

    def _exists(self, conn: object, key: str) -> bool:
        query = sql.SQL("SELECT 1 FROM {} WHERE key = %s LIMIT 1").format(self._table)
        return conn.execute(query, (key,)).fetchone() is not None  # type: ignore[attr-defined]

    def keys(self) -> Iterator[str]:
        return (entry.key for entry in self.entries())

    def entries(self) -> Iterator[BlobEntry]:
        # A blob's time is its last chunk's: a put streams for as long as its render runs.
        query = sql.SQL("SELECT key, max(stored_at) FROM {} GROUP BY key ORDER BY key").format(self._table)
        with self._pool.connection() as conn, conn.transaction(), conn.cursor(name="blob_keys") as cur:
            cur.execute(query)
            for key, stored_at in cur:
                yield BlobEntry(key, stored_at)

    def close(self) -> None:
        self._pool.close()


def open_blob_store(settings: Settings, *, pool_size: int = 4) -> BlobStore:
    """The store `DEPOT_BLOB_STORE` names; `postgres` keeps the bytes in the exports schema."""
    spec = settings.blob_store
    if spec == "postgres":
        return PostgresBlobStore(settings.database_url_for("exports"), pool_size=pool_size)
    # Imported here: both modules import this one, and boto3 loads only when S3 is chosen.
    if spec.startswith("local:") and spec != "local:":
        from services.exports.local_blob_store import LocalBlobStore

        return LocalBlobStore(spec.removeprefix("local:"))
    if spec.startswith("s3://"):
        from services.exports.s3_blob_store import S3BlobStore

        return S3BlobStore.from_settings(spec.removeprefix("s3://"), settings)
    raise ValueError(f"DEPOT_BLOB_STORE must be `postgres`, `local:<dir>` or `s3://<bucket>`, got {spec!r}")
