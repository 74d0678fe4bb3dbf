"""A `COPY … TO STDOUT` read in chunks of many rows, for the dataset streams' CSV.

libpq hands COPY data over one row at a time, and psycopg's async `Copy.read()` is one trip
through the connection's wait machinery per row: at a million rows, that was most of the prompts
service's CPU in an export. Here every row already in libpq's buffer is taken in one pass of a
single generator, and the event loop is only entered when the socket has nothing more to give.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg.abc import PQGen
from psycopg.generators import copy_from
from psycopg.pq.abc import PGconn


def _rows_up_to(pgconn: PGconn, limit: int) -> PQGen[tuple[bytes, bool]]:
    """Whole rows up to about `limit` bytes, and whether the COPY has ended (its final result
    consumed, and checked: copy_from raises the server's error)."""
    # Each row is a buffer of its own that libpq allocated; joined once at the end, they are copied
    # once (a growing bytearray copied them about five times over: 0.5 s of CPU per 516 MB).
    rows: list[memoryview] = []
    size = 0
    while size < limit:
        row = yield from copy_from(pgconn)
        if not isinstance(row, memoryview):  # the final result: no more rows
            return b"".join(rows), True
        rows.append(row)
        size += len(row)
    return b"".join(rows), False


async def copy_chunks(
    cursor: psycopg.AsyncCursor[Any], statement: str, params: dict[str, Any], *, chunk_bytes: int
) -> AsyncIterator[bytes]:
    """The output of a `COPY … TO STDOUT` statement in chunks of whole rows, each about
    `chunk_bytes` (the last one shorter; none for an empty output)."""
    connection = cursor.connection

    def read_next() -> asyncio.Future[tuple[bytes, bool]]:
        return asyncio.ensure_future(connection.wait(_rows_up_to(connection.pgconn, chunk_bytes)))

    # The cursor's Copy sends the statement and, if the reader stops early, cancels the COPY and
    # drains what the server still sends; the rows themselves are read here.
    async with cursor.copy(statement, params):
        # The next chunk is read while the caller sends this one: the server's rows keep coming
        # while the caller waits (on gRPC flow control), where they would stop once the socket's
        # buffer filled (a Unix socket's holds about 200 KB).
        pending = read_next()
        try:
            while True:
                chunk, ended = await pending
                if not ended:
                    pending = read_next()
                if chunk:
                    yield chunk
                if ended:
                    return
        finally:
            pending.cancel()  # nothing when it is done; the Copy then drains what is left
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # retrieved: the caller already has the error that stopped it
