"""Blobs as rows of the exports schema (`DEPOT_BLOB_STORE=postgres`, the default)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from psycopg import sql
from psycopg_pool import ConnectionPool

from services.exports.blobstores.base import BlobEntry, BlobNotFound, check_key, rechunk


class PostgresBlobStore:
    """Blobs as rows of `exports.blob_chunks` (key, seq, offset, size, data), written with COPY."""

    def __init__(self, url: str, *, pool_size: int = 4, schema: str = "exports") -> None:
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            # Autocommit: a read is one statement, its own snapshot; a put opens its own transaction.
            kwargs={"application_name": "depot-exports-blobs", "autocommit": True},
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
        with self._pool.connection() as conn:
            # Rows streamed one at a time (single-row mode: no cursor round trips, one chunk in memory)
            # and binary, so bytea arrives as raw bytes rather than hex text twice the size to parse.
            # One statement in autocommit sees one snapshot; every blob has a row (an empty one too),
            # so only a read that found none asks whether the key exists at all.
            found = False
            with conn.cursor() as cur:
                for offset, data in cur.stream(query, {"key": key, "start": start, "end": end}, binary=True):
                    found = True
                    lo = max(start - offset, 0)
                    hi = len(data) if end is None else min(end - offset, len(data))
                    if hi > lo:
                        yield bytes(data[lo:hi]) if (lo, hi) != (0, len(data)) else bytes(data)
            if not found and not self._exists(conn, key):
                raise BlobNotFound(f"no blob under key {key!r}")

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

    def entries(self) -> Iterator[BlobEntry]:
        # A blob's time is its last chunk's: a put streams for as long as its render runs.
        query = sql.SQL("SELECT key, max(stored_at) FROM {} GROUP BY key ORDER BY key").format(self._table)
        with self._pool.connection() as conn, conn.transaction(), conn.cursor(name="blob_keys") as cur:
            cur.execute(query)
            for key, stored_at in cur:
                yield BlobEntry(key, stored_at)

    def close(self) -> None:
        self._pool.close()
