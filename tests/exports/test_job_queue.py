"""The job queue's rules on the real PostgreSQL: claims, leases, attempts, and the worker's outcome
handling, in process with a renderer that can be made to fail or hang."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from services.common.database import Database
from services.common.errors import NotFound, Unavailable
from services.common.migrate import upgrade
from services.exports.blobstores import PostgresBlobStore
from services.exports.jobs.queue import JobQueue
from services.exports.jobs.worker import JobSettings, JobWorker
from services.exports.rendering.reports import RenderStats
from services.exports.rendering.work import Acting, Rendering, RenderJob, Resolved
from services.exports.repository import ExportsRepository
from services.exports.rules import export_request
from tests.support.system import Database as SessionDatabase

LEASE = 0.3  # seconds: short enough that a test can let it run out


class OneSource:
    async def resolve(self, request: Any, *, acting: Acting, timeout: float) -> Resolved:
        return Resolved("r1", datetime.now(UTC))


class ScriptedRenderer:
    """Waits until `released` is set (it is, at first), then fails with `failure` or stores a few bytes."""

    def __init__(self, blobs: PostgresBlobStore) -> None:
        self.blobs, self.readers = blobs, []
        self.failure: Exception | None = None
        self.released = asyncio.Event()
        self.released.set()

    async def render(self, job: RenderJob) -> Rendering:
        self.readers.append(job.acting)
        await self.released.wait()
        if self.failure is not None:
            raise self.failure
        size, digest = await asyncio.to_thread(self.blobs.put, job.blob_key, [b"rendered"])
        return Rendering(size=size, sha256=digest, seconds=0.0, stats=RenderStats(row_count=1))


@dataclass
class Harness:
    database: Database
    blobs: PostgresBlobStore
    renderer: ScriptedRenderer
    owner: str

    async def queue(self, *, admin: bool = False) -> Any:
        request = export_request(source="datasets/temporal", fmt="csv", options={}, is_admin=admin)
        async with self.database.begin() as session:
            return await ExportsRepository(session).insert_queued(
                owner=self.owner, request=request, revision=str(uuid.uuid4()), owner_is_admin=admin
            )

    @asynccontextmanager
    async def jobs(self) -> AsyncIterator[JobQueue]:
        async with self.database.begin() as session:
            yield JobQueue(session)

    async def row(self, export_id: uuid.UUID) -> Any:
        async with self.database.begin() as session:
            return await ExportsRepository(session).get(export_id=export_id)

    async def claim(self, worker: str, max_attempts: int = 3) -> Any:
        """Claims the harness owner's job (other tests' leftovers are skipped past, not taken)."""
        async with self.jobs() as queue:
            await queue.fail_exhausted(max_attempts=max_attempts)
            row = await queue.claim(worker=worker, lease_seconds=LEASE, max_attempts=max_attempts)
        assert row is None or row.owner == self.owner, "another test's job was left in the queue"
        return row

    def worker(self, *, max_attempts: int = 2, name: str = "worker-a") -> JobWorker:
        settings = JobSettings(
            concurrency=2, lease_seconds=2.0, max_attempts=max_attempts, poll_seconds=0.1, lookup_timeout=5
        )
        return JobWorker(
            queues=self.database.units_of_work(JobQueue),
            exports=self.database.units_of_work(ExportsRepository),
            sources=OneSource(),
            renderer=self.renderer,
            blobs=self.blobs,
            wake=asyncio.Event(),
            settings=settings,
            name=name,
        )

    async def until(self, export_id: uuid.UUID, check: Callable[[Any], bool], seconds: float = 15) -> Any:
        deadline = asyncio.get_running_loop().time() + seconds
        while not check(row := await self.row(export_id)):
            assert asyncio.get_running_loop().time() < deadline, f"condition not met: {row}"
            await asyncio.sleep(0.05)
        return row


@pytest.fixture(scope="module")
def queue_url(database: SessionDatabase) -> str:
    """A database of its own on the session's server: no running system's worker claims these jobs."""
    name = f"jobs_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(database.url).set(database=name).render_as_string(hide_password=False)
    upgrade("exports", url)
    return url


def run(url: str, test: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        db = Database(url, pool_size=10)
        await db.open()
        blobs = PostgresBlobStore(url)
        try:
            await test(Harness(db, blobs, ScriptedRenderer(blobs), f"jobs-{uuid.uuid4().hex[:10]}"))
        finally:
            blobs.close()
            await db.close()

    asyncio.run(main())


def test_a_worker_that_lost_its_lease_can_neither_beat_nor_complete_nor_fail(queue_url: str) -> None:
    async def test(h: Harness) -> None:
        queued = await h.queue()
        first = await h.claim("worker-a")
        assert (first.id, first.status, first.attempts) == (queued.id, "processing", 1)
        assert await h.claim("worker-b") is None, "a leased job is nobody else's"
        await asyncio.sleep(LEASE + 0.2)
        second = await h.claim("worker-b")
        assert (second.id, second.lease_owner, second.attempts) == (queued.id, "worker-b", 2)
        async with h.jobs() as queue:
            assert not await queue.heartbeat(
                export_id=queued.id, worker="worker-a", lease_seconds=5, rows_rendered=9
            )
        async with h.database.begin() as session:
            repo = ExportsRepository(session)
            receipt = {"row_count": 1}
            refused = await repo.complete(
                export_id=queued.id,
                blob_key="exports/x",
                size=1,
                sha256="0" * 64,
                receipt=receipt,
                lease_owner="worker-a",
            )
            assert refused is None
            assert not await repo.fail(export_id=queued.id, error="late", lease_owner="worker-a")
            done = await repo.complete(
                export_id=queued.id,
                blob_key="exports/y",
                size=1,
                sha256="1" * 64,
                receipt=receipt,
                lease_owner="worker-b",
            )
        assert (done.status, done.blob_key, done.lease_owner) == ("completed", "exports/y", "worker-b")

    run(queue_url, test)


def test_a_job_whose_workers_keep_dying_fails_after_the_last_attempt(queue_url: str) -> None:
    async def test(h: Harness) -> None:
        queued = await h.queue()
        for attempt in (1, 2, 3):
            claimed = await h.claim(f"doomed-{attempt}")
            assert (claimed.id, claimed.attempts) == (queued.id, attempt)
            await asyncio.sleep(LEASE + 0.2)  # the worker died: its lease runs out
        assert await h.claim("survivor") is None, "no fourth attempt"
        row = await h.row(queued.id)
        assert (row.status, row.attempts) == ("failed", 3)
        assert "abandoned" in row.error and "3 attempts" in row.error, row.error

    run(queue_url, test)


def test_a_transient_failure_is_retried_then_the_job_fails_with_the_reason(queue_url: str) -> None:
    async def test(h: Harness) -> None:
        h.renderer.failure = Unavailable("cannot store: S3 is unreachable")
        queued = await h.queue(admin=True)
        worker = h.worker(max_attempts=2)
        worker.start()
        try:
            retried = await h.until(queued.id, lambda r: r.status == "queued" and r.attempts == 1)
            assert "S3 is unreachable" in retried.error and retried.lease_owner is None
            failed = await h.until(queued.id, lambda r: r.status == "failed")
        finally:
            await worker.drain(1)
        assert failed.attempts == 2
        assert failed.error == "cannot store: S3 is unreachable (after 2 attempts)"
        assert h.renderer.readers == [Acting(h.owner, admin=True)] * 2, "each attempt reads as the caller"
        assert not h.blobs.exists(f"exports/{queued.id}") and not h.blobs.exists(f"exports/{queued.id}.2")

    run(queue_url, test)


def test_a_definitive_failure_is_not_retried(queue_url: str) -> None:
    async def test(h: Harness) -> None:
        h.renderer.failure = NotFound("no prompt with id 'x'")
        queued = await h.queue()
        worker = h.worker(max_attempts=3)
        worker.start()
        try:
            failed = await h.until(queued.id, lambda r: r.status == "failed")
        finally:
            await worker.drain(1)
        assert (failed.attempts, failed.error) == (1, "no prompt with id 'x'")

    run(queue_url, test)


def test_a_worker_completes_a_job_and_records_its_rows(queue_url: str) -> None:
    async def test(h: Harness) -> None:
        queued = await h.queue()
        worker = h.worker()
        worker.start()
        try:
            done = await h.until(queued.id, lambda r: r.status == "completed")
        finally:
            await worker.drain(1)
        assert (done.attempts, done.rows_rendered, done.lease_owner) == (1, 1, "worker-a")
        assert done.blob_key == f"exports/{queued.id}" and h.blobs.exists(done.blob_key)

    run(queue_url, test)


def test_draining_gives_a_running_job_back_without_spending_its_attempt(queue_url: str) -> None:
    async def test(h: Harness) -> None:
        h.renderer.released.clear()
        queued = await h.queue()
        worker = h.worker()
        worker.start()
        await h.until(queued.id, lambda r: r.status == "processing")
        await worker.drain(0.2)
        row = await h.row(queued.id)
        assert (row.status, row.attempts, row.lease_owner) == ("queued", 0, None)
        assert (row.owner, row.owner_is_admin) == (h.owner, False), "taken again, it reads as its caller"
        h.renderer.released.set()
        other = h.worker(name="worker-b")
        other.start()
        try:
            done = await h.until(queued.id, lambda r: r.status == "completed")
        finally:
            await other.drain(1)
        assert (done.attempts, done.lease_owner) == (1, "worker-b")

    run(queue_url, test)
