"""A COPY read in chunks of whole rows (services/prompts/copy_chunks.py): the same bytes as the
row-by-row read, errors raised, and a connection left usable whether the read ends, fails or stops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest

from services.prompts.copy_chunks import copy_chunks
from tests.support.system import Database

ROWS = "SELECT g, repeat(md5(g::text), 3), 'a \"quoted\", line' || chr(10) || 'break' FROM generate_series(1, %(rows)s) g"
COPY = f"COPY ({ROWS}) TO STDOUT WITH (FORMAT csv, HEADER)"
CHUNK = 64 * 1024


def _on_connection(database: Database, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        async with await psycopg.AsyncConnection.connect(database.url) as conn:
            return await work(conn)

    return asyncio.run(run())


def _row_by_row(database: Database, rows: int) -> bytes:
    with psycopg.connect(database.url) as conn, conn.cursor() as cur, cur.copy(COPY, {"rows": rows}) as copy:
        return b"".join(bytes(row) for row in copy)


async def _chunks(conn: psycopg.AsyncConnection[Any], rows: int) -> list[bytes]:
    async with conn.cursor() as cur:
        return [chunk async for chunk in copy_chunks(cur, COPY, {"rows": rows}, chunk_bytes=CHUNK)]


def test_the_chunks_are_whole_rows_of_about_the_size_asked_and_hold_the_copy_output(
    database: Database,
) -> None:
    chunks = _on_connection(database, lambda conn: _chunks(conn, 20_000))
    assert b"".join(chunks) == _row_by_row(database, 20_000)
    assert len(chunks) > 10
    longest_row = max(len(line) for line in b"".join(chunks).split(b"\n")) + 1
    for chunk in chunks[:-1]:
        assert CHUNK <= len(chunk) < CHUNK + 2 * longest_row  # a row never split, never far past
    # Rows hold a quoted newline, so a chunk's end is a row's end where the rows say so.
    assert all(chunk.endswith(b'break"\n') for chunk in chunks)


def test_a_copy_of_no_rows_is_its_header_alone(database: Database) -> None:
    chunks = _on_connection(database, lambda conn: _chunks(conn, 0))
    assert chunks == [_row_by_row(database, 0)]


def test_an_error_in_the_middle_of_the_copy_is_raised_and_the_connection_recovers(database: Database) -> None:
    failing = "COPY (SELECT g, 1 / (g - 15000) FROM generate_series(1, 20000) g) TO STDOUT"

    async def work(conn: psycopg.AsyncConnection[Any]) -> Any:
        async with conn.cursor() as cur:
            with pytest.raises(psycopg.errors.DivisionByZero):
                async for _ in copy_chunks(cur, failing, {}, chunk_bytes=1024):
                    pass
        await conn.rollback()
        return await (await conn.execute("SELECT 42")).fetchone()

    assert _on_connection(database, work) == (42,)


def test_a_reader_that_stops_early_leaves_the_connection_usable(database: Database) -> None:
    async def work(conn: psycopg.AsyncConnection[Any]) -> Any:
        async with conn.cursor() as cur:
            chunks = copy_chunks(cur, COPY, {"rows": 200_000}, chunk_bytes=CHUNK)
            first = await anext(chunks)
            await chunks.aclose()  # the COPY is cancelled and what the server still sent is drained
        assert first.startswith(b"g,repeat")
        await conn.rollback()
        return await (await conn.execute("SELECT 42")).fetchone()

    assert _on_connection(database, work) == (42,)
