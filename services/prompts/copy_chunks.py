"""A `COPY … TO STDOUT` read in chunks of many rows, for the dataset streams' CSV.

libpq hands COPY data over one row at a time, and psycopg's async `Copy.read()` is one trip
through the connection's wait machinery per row: at a million rows, that was most of the prompts
service's CPU in an export. Here every row already in libpq's buffer is taken in one pass of a
single generator, and the event loop is only entered when the socket has nothing more to give:
libpq's buffer holds 16-32 KB of rows, and waiting on the loop each time it ran dry (when the
socket held more already) cost ten system calls and a future per 16 KB — 33,000 waits for the
1M-row CSV, about 0.2 s of the service's CPU and 0.4 s of the render.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg.abc import PQGen
from psycopg.errors import error_from_result
from psycopg.generators import copy_from, fetch_many
from psycopg.pq import ExecStatus
from psycopg.pq.abc import PGconn


def _rows_up_to(pgconn: PGconn, limit: int, encoding: str) -> PQGen[tuple[bytes, bool]]:
    """Whole rows up to about `limit` bytes, and whether the COPY has ended (its final result
    consumed, and checked: the server's error is raised)."""
    # Each row is a buffer of its own that libpq allocated; joined once at the end, they are copied
    # once (a growing bytearray copied them about five times over: 0.5 s of CPU per 516 MB).
    rows: list[memoryview] = []
    size = 0
    take = pgconn.get_copy_data
    while size < limit:
        # A row libpq holds already is taken here directly: psycopg's copy_from generator around
        # the same call costs a frame per row, 0.2 s of CPU per 500 MB. It is kept for the wait.
        nbytes, row = take(1)
        if nbytes == 0:  # nothing buffered: read what the socket holds already (one recv)
            pgconn.consume_input()
            nbytes, row = take(1)
        if nbytes == 0:  # the socket is empty too: wait for it
            waited = yield from copy_from(pgconn)
            if not isinstance(waited, memoryview):  # the final result: no more rows
                return b"".join(rows), True
            nbytes, row = len(waited), waited
        elif nbytes < 0:  # the end of the data: its final result follows
            yield from _final_result(pgconn, encoding)
            return b"".join(rows), True
        rows.append(row)
        size += nbytes
    return b"".join(rows), False


def _final_result(pgconn: PGconn, encoding: str) -> PQGen[None]:
    """Reads the COPY's final result and raises the server's error if it failed (as copy_from does
    once the data has ended)."""
    results = yield from fetch_many(pgconn)
    if len(results) != 1:
        raise psycopg.ProgrammingError("you cannot mix COPY with other operations")
    if results[0].status != ExecStatus.COMMAND_OK:
        raise error_from_result(results[0], encoding=encoding)


async def copy_chunks(
    cursor: psycopg.AsyncCursor[Any], statement: str, params: dict[str, Any], *, chunk_bytes: int
) -> AsyncIterator[bytes]:
    """The output of a `COPY … TO STDOUT` statement in chunks of whole rows, each about
    `chunk_bytes` (the last one shorter; none for an empty output)."""
    connection = cursor.connection
    encoding = connection.info.encoding

    def read_next() -> asyncio.Future[tuple[bytes, bool]]:
        return asyncio.ensure_future(connection.wait(_rows_up_to(connection.pgconn, chunk_bytes, encoding)))

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
