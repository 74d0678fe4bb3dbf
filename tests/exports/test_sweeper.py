"""The sweep and the cleanup, in process, on the real PostgreSQL and real blob stores (postgres,
local directory, SeaweedFS): no row ever points at missing bytes, and bytes no row points at do
not last (DESIGN.md rule 3). The crash between the two steps is a real process dying."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from services.common.background import one_replica_at_a_time
from services.common.database import Database
from services.exports.blobstores import BlobStore, PostgresBlobStore
from services.exports.blobstores.local import LocalBlobStore
from services.exports.blobstores.s3 import S3BlobStore
from services.exports.lifecycle.sweeper import LOCK_NAME, Sweeper
from services.exports.rendering.work import blob_key
from services.exports.repository import ExportsRepository
from services.exports.rules import export_request
from tests.support.s3 import S3Server
from tests.support.system import Database as SessionDatabase

REPO = Path(__file__).resolve().parents[2]
HOUR = 3600.0
REQUEST = export_request(source="datasets/temporal", fmt="csv", options={}, is_admin=False)

# Claims an export, stores its bytes, then dies while the transaction that points the row at them
# is still open: the bytes are stored, the row never commits.
CRASH_BETWEEN_BLOB_AND_ROW = """
import asyncio, os, sys
from services.common.database import Database
from services.exports.blobstores import open_blob_store
from services.common.settings import Settings
from services.exports.rendering.work import blob_key
from services.exports.repository import ExportsRepository
from services.exports.rules import export_request

async def main(url, store, owner):
    database = Database(url)
    await database.open()
    blobs = open_blob_store(Settings(database_url=url, blob_store=store))
    request = export_request(source="datasets/temporal", fmt="csv", options={}, is_admin=False)
    async with database.begin() as session:
        row = await ExportsRepository(session).insert_processing(owner=owner, request=request, revision="r1")
    print(row.id, flush=True)
    blobs.put(blob_key(row.id), [b"rendered, never pointed at"])
    async with database.begin() as session:
        await ExportsRepository(session).complete(
            export_id=row.id, blob_key=blob_key(row.id), size=26, sha256="0" * 64, receipt={"row_count": 1}
        )
        os._exit(9)

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture(params=["postgres", "local", pytest.param("s3", marks=pytest.mark.s3)])
def store(
    request: pytest.FixtureRequest, database: SessionDatabase, tmp_path: Path
) -> Iterator[tuple[str, BlobStore]]:
    """A store and the DEPOT_BLOB_STORE spec another process opens it with."""
    if request.param == "postgres":
        spec, blobs = "postgres", PostgresBlobStore(database.url)
    elif request.param == "local":
        spec, blobs = f"local:{tmp_path / 'blobs'}", LocalBlobStore(tmp_path / "blobs")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        spec = f"s3://{server.bucket}"
        blobs = S3BlobStore(
            server.bucket,
            endpoint_url=server.endpoint_url,
            access_key_id=server.access_key,
            secret_access_key=server.secret_key,
        )
    yield spec, blobs
    blobs.close()


@asynccontextmanager
async def lifecycle(url: str, blobs: BlobStore) -> AsyncIterator[Sweeper]:
    database = Database(url, pool_size=4)
    await database.open()
    try:
        yield Sweeper(database=database, blobs=blobs, interval_seconds=0, grace_seconds=HOUR)
    finally:
        await database.close()


def run(database: SessionDatabase, blobs: BlobStore, test: Callable[[Sweeper], Awaitable[None]]) -> None:
    async def main() -> None:
        async with lifecycle(database.url, blobs) as subject:
            await test(subject)

    asyncio.run(main())


async def sql(subject: Sweeper, statement: str, *params: Any) -> list[Any]:
    async with subject._database.begin() as session:  # fault injection: a crash, a clock moved on
        cursor = await session.connection.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []


CLAIMED: list[uuid.UUID] = []  # rows these tests make on the shared database, removed at the end


@pytest.fixture(scope="module", autouse=True)
def remove_claimed_rows(database: SessionDatabase) -> Iterator[None]:
    """The rows made here point at bytes in stores that end with each test (a local folder, a
    bucket), so they leave with the module rather than look like rows of missing bytes later."""
    yield
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("DELETE FROM exports.exports WHERE id = ANY(%s)", (CLAIMED,))


async def claim(subject: Sweeper, owner: str) -> Any:
    async with subject._database.begin() as session:
        row = await ExportsRepository(session).insert_processing(owner=owner, request=REQUEST, revision="r1")
    CLAIMED.append(row.id)
    return row


async def complete(subject: Sweeper, row: Any, key: str, *, ttl_seconds: int | None = None) -> Any:
    async with subject._database.begin() as session:
        return await ExportsRepository(session).complete(
            export_id=row.id,
            blob_key=key,
            size=5,
            sha256="0" * 64,
            receipt={"row_count": 1},
            ttl_seconds=ttl_seconds,
        )


def env_for(spec: str, request: pytest.FixtureRequest) -> dict[str, str]:
    env = dict(os.environ)
    if spec.startswith("s3://"):
        server: S3Server = request.getfixturevalue("s3_server")
        env.update(server.credentials(), DEPOT_S3_ENDPOINT_URL=server.endpoint_url)
    return env


def test_bytes_of_a_crash_between_blob_and_row_are_swept_after_the_grace_and_not_before(
    database: SessionDatabase, store: tuple[str, BlobStore], request: pytest.FixtureRequest
) -> None:
    spec, blobs = store
    owner = f"crash-{uuid.uuid4().hex[:8]}"
    writer = subprocess.run(
        [sys.executable, "-c", CRASH_BETWEEN_BLOB_AND_ROW, database.url, spec, owner],
        cwd=REPO,
        env=env_for(spec, request),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert writer.returncode == 9, writer.stderr
    export_id = uuid.UUID(writer.stdout.strip())
    key = blob_key(export_id)
    assert blobs.exists(key), "the bytes were stored before the crash"

    async def test(subject: Sweeper) -> None:
        [(status, pointed)] = await sql(
            subject, "SELECT status, blob_key FROM exports.exports WHERE id = %s", export_id
        )
        assert (status, pointed) == ("processing", None), "the row never pointed at the bytes"
        await subject.sweep(grace_seconds=0)
        assert blobs.exists(key), "an export still processing may yet point at its bytes"
        # Its renderer is gone: the row is given up as failed, as a waiter or the job queue would.
        await sql(
            subject,
            "UPDATE exports.exports SET status = 'failed', error = 'crashed' WHERE id = %s",
            export_id,
        )
        await subject.sweep()
        assert blobs.exists(key), "younger than the grace period: left alone"
        swept = await subject.sweep(grace_seconds=0)
        assert not blobs.exists(key) and swept.blobs >= 1

    run(database, blobs, test)


def test_the_sweep_never_takes_bytes_a_row_points_at_or_bytes_of_a_render_in_flight(
    database: SessionDatabase, store: tuple[str, BlobStore]
) -> None:
    _, blobs = store
    owner = f"sweep-{uuid.uuid4().hex[:8]}"

    async def test(subject: Sweeper) -> None:
        done = await claim(subject, owner)
        blobs.put(blob_key(done.id), [b"done!"])
        assert await complete(subject, done, blob_key(done.id)) is not None
        rendering = await claim(subject, f"{owner}-2")
        blobs.put(blob_key(rendering.id), [b"still being written"])
        retried = f"{blob_key(rendering.id)}.2"  # a second attempt's key names the same export
        blobs.put(retried, [b"attempt 2"])
        foreign = f"not-exports/{uuid.uuid4()}"  # nothing outside the service's prefix is touched
        blobs.put(foreign, [b"someone else's"])
        orphan = blob_key(uuid.uuid4())
        blobs.put(orphan, [b"no row at all"])
        await subject.sweep(grace_seconds=0)
        kept = {
            k: blobs.exists(k) for k in (blob_key(done.id), blob_key(rendering.id), retried, foreign, orphan)
        }
        assert kept == {
            blob_key(done.id): True,
            blob_key(rendering.id): True,
            retried: True,
            foreign: True,
            orphan: False,
        }
        blobs.delete(foreign)

    run(database, blobs, test)


def test_cleanup_removes_expired_exports_with_their_links_and_bytes_and_keeps_the_rest(
    database: SessionDatabase, store: tuple[str, BlobStore]
) -> None:
    _, blobs = store
    owner = f"ttl-{uuid.uuid4().hex[:8]}"

    async def test(subject: Sweeper) -> None:
        rows = []
        for suffix in ("old", "young"):
            row = await claim(subject, f"{owner}-{suffix}")
            blobs.put(blob_key(row.id), [b"bytes"])
            rows.append(await complete(subject, row, blob_key(row.id), ttl_seconds=3600))
        old, young = rows
        assert old.expires_at is not None, "a completed export expires"
        await sql(
            subject,
            "INSERT INTO exports.share_links (token_hash, export_id, owner, expires_at) VALUES (%s, %s, %s, now() + interval '1 hour')",
            uuid.uuid4().hex * 2,
            old.id,
            old.owner,
        )
        await subject.remove_expired()
        assert blobs.exists(blob_key(old.id)), "not expired yet"
        # The clock moves on: the first export's time is up.
        await sql(
            subject,
            "UPDATE exports.exports SET expires_at = now() - interval '1 second' WHERE id = %s",
            old.id,
        )
        assert await subject.remove_expired() >= 1
        left = await sql(subject, "SELECT id FROM exports.exports WHERE id = ANY(%s)", [old.id, young.id])
        assert [r[0] for r in left] == [young.id]
        assert await sql(subject, "SELECT 1 FROM exports.share_links WHERE export_id = %s", old.id) == []
        assert not blobs.exists(blob_key(old.id)) and blobs.exists(blob_key(young.id))

    run(database, blobs, test)


def test_the_sweep_clears_what_crashed_writers_left_inside_the_store(
    database: SessionDatabase, store: tuple[str, BlobStore], request: pytest.FixtureRequest
) -> None:
    spec, blobs = store
    if spec == "postgres":
        pytest.skip("a postgres put is one transaction: a crash leaves nothing inside the store")
    key = blob_key(uuid.uuid4())
    if isinstance(blobs, LocalBlobStore):
        (blobs.directory / "exports").mkdir(exist_ok=True)
        (blobs.directory / "exports" / f".~{key.split('/')[-1]}.crashed.tmp").write_bytes(b"half")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        client = server.client()
        client.create_multipart_upload(Bucket=server.bucket, Key=key)
        client.close()

    async def test(subject: Sweeper) -> None:
        assert (await subject.sweep()).leftovers == 0, "it may still be writing"
        assert (await subject.sweep(grace_seconds=0)).leftovers >= 1

    run(database, blobs, test)


def test_one_replica_at_a_time_runs_the_cleanup(database: SessionDatabase, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)

    async def test(first: Sweeper) -> None:
        async with (
            lifecycle(database.url, blobs) as second,
            one_replica_at_a_time(first._database, LOCK_NAME) as held,
        ):
            assert held
            assert await second.run_once() is False, "the other replica holds the lock"
        assert await first.run_once() is True, "released after the pass"

    run(database, blobs, test)


def test_the_sweep_takes_an_upload_no_import_points_at_after_the_grace_and_keeps_the_rest(
    database: SessionDatabase,
) -> None:
    blobs = PostgresBlobStore(database.url)
    owner = f"imports-{uuid.uuid4().hex[:8]}"
    running, ended, never = (f"imports/{uuid.uuid4()}" for _ in range(3))

    async def test(subject: Sweeper) -> None:
        for key in (running, ended, never):
            blobs.put(key, [b"an uploaded archive"])
        # A running job points at its upload; an ended one no longer does (its delete failed); the
        # third is the upload of a request that died before its row committed. The running job's
        # lease is another worker's and far from expiring, so no exports replica serving this
        # database takes it (a queued one was, now and then: it failed the bogus archive and
        # deleted its upload before the sweep looked).
        [(running_id,), (ended_id,)] = await sql(
            subject,
            "INSERT INTO exports.imports"
            " (owner, status, content_type, blob_key, size_bytes, lease_owner, lease_expires_at)"
            " VALUES (%s, 'processing', 'application/zip', %s, 19, 'elsewhere', now() + interval '1 hour'),"
            " (%s, 'completed', 'application/zip', NULL, 19, NULL, NULL)"
            " RETURNING id",
            owner,
            running,
            owner,
        )
        try:
            await subject.sweep()
            assert all(blobs.exists(k) for k in (running, ended, never)), "younger than the grace: left alone"
            swept = await subject.sweep(grace_seconds=0)
            kept = {k: blobs.exists(k) for k in (running, ended, never)}
            assert kept == {running: True, ended: False, never: False}
            assert swept.blobs >= 2
        finally:
            await sql(subject, "DELETE FROM exports.imports WHERE id = ANY(%s)", [running_id, ended_id])
            blobs.delete(running)

    run(database, blobs, test)
