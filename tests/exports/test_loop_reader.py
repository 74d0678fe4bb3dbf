"""Downloads read the postgres store on the event loop (PostgresLoopReader): the bytes the blocking
store wrote, the same errors, and a reader that stops early — a client gone mid-download — leaves its
connection clean for the next download. Also here: a download's count, committed without waiting for
the WAL flush, leaves the pooled connection as it found it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import psycopg
import pytest
from psycopg_pool import PoolClosed

from services.common.database import Database as ServiceDatabase
from services.exports.blobstores import STORE_CHUNK_BYTES, BlobNotFound, PostgresBlobStore, PostgresLoopReader
from services.exports.lifecycle.repository import LifecycleRepository
from tests.support.system import Database

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def store(database: Database) -> Iterator[PostgresBlobStore]:
    blobs = PostgresBlobStore(database.url)
    yield blobs
    blobs.close()


def stored(store: PostgresBlobStore, size: int) -> tuple[str, bytes]:
    key, data = f"loop/{uuid.uuid4()}", os.urandom(size)
    store.put(key, [data])
    return key, data


async def chunks_of(reader: PostgresLoopReader, key: str) -> list[bytes]:
    return [chunk async for chunk in reader.chunks(key)]


def with_reader(database: Database, test: Callable[[PostgresLoopReader], Awaitable[None]]) -> None:
    """Runs `test` with a reader whose pool holds one connection: each read reuses what the last left."""

    async def main() -> None:
        reader = PostgresLoopReader(database.url, pool_size=1)
        try:
            await test(reader)
        finally:
            await reader.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    "size", [0, 11, 2 * STORE_CHUNK_BYTES + 12_345], ids=["empty", "small", "three_chunks"]
)
def test_it_reads_the_chunks_the_store_wrote(database: Database, store: PostgresBlobStore, size: int) -> None:
    key, data = stored(store, size)

    async def test(reader: PostgresLoopReader) -> None:
        chunks = await chunks_of(reader, key)
        assert chunks == list(store.open(key)), "the same chunks as the blocking read, in order"
        assert b"".join(chunks) == data

    with_reader(database, test)


def test_a_missing_or_hostile_key_is_refused(database: Database) -> None:
    async def test(reader: PostgresLoopReader) -> None:
        with pytest.raises(BlobNotFound):
            await chunks_of(reader, f"loop/{uuid.uuid4()}")
        with pytest.raises(ValueError, match="invalid blob key"):
            await chunks_of(reader, "../etc/passwd")

    with_reader(database, test)


async def first_chunk_then_gone(reader: PostgresLoopReader, key: str, how: str) -> None:
    """Reads the first chunk of a blob and leaves: the generator closed, or the reading task cancelled
    while it waits for the second chunk."""
    if how == "closed":
        stream = reader.chunks(key)
        assert len(await anext(stream)) == STORE_CHUNK_BYTES
        await stream.aclose()
        return
    first = asyncio.Event()

    async def read(stream: AsyncIterator[bytes]) -> None:
        async for _ in stream:
            first.set()
            await asyncio.sleep(3600)  # a client that stopped reading

    task = asyncio.create_task(read(reader.chunks(key)))
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("how", ["closed", "cancelled"])
def test_a_reader_gone_after_the_first_chunk_leaves_the_connection_clean(
    database: Database, store: PostgresBlobStore, how: str
) -> None:
    key, data = stored(store, 5 * MiB)

    async def test(reader: PostgresLoopReader) -> None:
        for _ in range(3):  # a pool of one: each read after the first gets the connection left behind
            await first_chunk_then_gone(reader, key, how)
            assert b"".join(await chunks_of(reader, key)) == data
        # Nothing of the abandoned reads still runs in the database.
        with psycopg.connect(database.url) as conn:
            running = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'depot-exports-blobs'"
                " AND state = 'active' AND query LIKE '%%blob_chunks%%'"
            ).fetchone()
        assert running == (0,)

    with_reader(database, test)


def test_a_closed_reader_reads_nothing_more(database: Database, store: PostgresBlobStore) -> None:
    key, _ = stored(store, 11)

    async def main() -> None:
        reader = PostgresLoopReader(database.url)
        assert len(await chunks_of(reader, key)) == 1
        await reader.close()
        with pytest.raises(PoolClosed):
            await chunks_of(reader, key)

    asyncio.run(main())


def test_a_download_count_commits_without_changing_the_pooled_connection(database: Database) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO exports.exports (owner, source, format, options, options_hash, source_revision,"
            " status, media_type, filename, size_bytes, sha256, blob_key) VALUES (%s, 'datasets/temporal',"
            " 'csv', '{}', repeat('0', 64), 'r1', 'completed', 'text/csv', 'temporal.csv', 0,"
            " repeat('0', 64), 'loop/none') RETURNING id",
            (f"loop-{uuid.uuid4().hex[:10]}",),
        ).fetchone()
    assert row is not None
    export_id = row[0]

    async def main() -> None:
        service_database = ServiceDatabase(database.url, pool_size=1)
        await service_database.open()
        try:
            reads = service_database.reads(LifecycleRepository)
            for _ in range(2):
                async with reads() as repo:
                    await repo.count_download(export_id=export_id)
            async with service_database.connection() as session:  # the pool's one connection
                shown = await (await session.connection.execute("SHOW synchronous_commit")).fetchone()
            assert shown is not None and shown[0] == "on", "the count's setting lasts its own transaction"
        finally:
            await service_database.close()

    asyncio.run(main())
    with psycopg.connect(database.url) as conn:
        count = conn.execute(
            "SELECT download_count FROM exports.exports WHERE id = %s", (export_id,)
        ).fetchone()
        conn.execute("DELETE FROM exports.exports WHERE id = %s", (export_id,))
        conn.commit()
    assert count == (2,)
