"""The render-once rules of the exports service, in process, on the real PostgreSQL, with fake
sources and renderer (so a test can make a rendering slow, fail, or abandoned)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from services.common.database import Database
from services.common.errors import DepotError, NotFound, Unavailable
from services.exports.blobstores import PostgresBlobStore
from services.exports.rendering.reports import RenderStats
from services.exports.rendering.work import Acting, Rendering, RenderJob, Resolved
from services.exports.repository import ExportsRepository
from services.exports.rules import ExportRequest, export_request
from services.exports.service import ExportsService
from tests.support.system import Database as SessionDatabase


@dataclass(frozen=True)
class Caller:
    user_id: str = field(default_factory=lambda: f"svc-{uuid.uuid4().hex[:10]}")
    is_admin: bool = False


class FakeSources:
    revision = "r1"

    async def resolve(self, request: ExportRequest, *, acting: Acting, timeout: float) -> Resolved:
        return Resolved(self.revision, datetime.now(UTC))


class FakeRenderer:
    """Stores a few bytes per job, after `delay` seconds, or raises `failure`."""

    def __init__(self, blobs: PostgresBlobStore) -> None:
        self.blobs, self.calls, self.delay = blobs, 0, 0.0
        self.failure: Exception | None = None
        self.started = asyncio.Event()

    async def render(self, job: RenderJob) -> Rendering:
        self.calls += 1
        self.started.set()
        await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        size, digest = await asyncio.to_thread(
            self.blobs.put, job.blob_key, [f"bytes of {job.export_id}".encode()]
        )
        return Rendering(size=size, sha256=digest, seconds=self.delay, stats=RenderStats(row_count=1))


@dataclass
class Harness:
    service: ExportsService
    renderer: FakeRenderer
    blobs: PostgresBlobStore
    database: Database

    async def create(self, caller: Caller, timeout: float = 30) -> tuple[Any, bool]:
        return await self.service.create_export(
            caller=caller, source="datasets/temporal", fmt="csv", options={}, timeout=timeout
        )


@asynccontextmanager
async def harness(url: str) -> AsyncIterator[Harness]:
    database = Database(url, pool_size=30)
    await database.open()
    blobs = PostgresBlobStore(url)
    renderer = FakeRenderer(blobs)
    service = ExportsService(
        unit_of_work=database.units_of_work(ExportsRepository),
        sources=FakeSources(),
        renderer=renderer,
        blobs=blobs,
        rate_limit_per_minute=100,
        default_timeout=30,
    )
    try:
        yield Harness(service, renderer, blobs, database)
    finally:
        blobs.close()
        await database.close()


def run(database: SessionDatabase, test: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        async with harness(database.url) as h:
            await test(h)

    asyncio.run(main())


def test_concurrent_first_requests_render_once(database: SessionDatabase) -> None:
    async def test(h: Harness) -> None:
        h.renderer.delay = 0.3
        caller = Caller()
        results = await asyncio.gather(*(h.create(caller) for _ in range(20)))
        assert h.renderer.calls == 1
        assert len({row.id for row, _ in results}) == 1
        assert sorted(reused for _, reused in results) == [False] + [True] * 19
        assert {row.sha256 for row, _ in results} != {None}

    run(database, test)


def test_an_abandoned_rendering_is_taken_over(database: SessionDatabase) -> None:
    async def test(h: Harness) -> None:
        caller = Caller()
        request = export_request(source="datasets/temporal", fmt="csv", options={}, is_admin=False)
        async with h.database.begin() as session:
            repo = ExportsRepository(session)
            stuck = await repo.insert_processing(owner=caller.user_id, request=request, revision="r1")
            # Fault injection: the renderer's process died two minutes ago.
            await session.connection.execute(
                "UPDATE exports.exports SET heartbeat_at = now() - interval '2 minutes' WHERE id = %s",
                (stuck.id,),
            )
        row, reused = await h.create(caller)
        assert (reused, h.renderer.calls) == (False, 1) and row.id != stuck.id
        async with h.database.begin() as session:
            old = await ExportsRepository(session).get(export_id=stuck.id)
        assert old.status == "failed" and "abandoned" in old.error

    run(database, test)


def test_a_failed_rendering_stores_nothing_and_is_tried_again(database: SessionDatabase) -> None:
    async def test(h: Harness) -> None:
        caller = Caller()
        h.renderer.failure = NotFound("the prompt went away")
        with pytest.raises(NotFound):
            await h.create(caller)
        h.renderer.failure = RuntimeError("bug")
        with pytest.raises(RuntimeError):
            await h.create(caller)
        page = await h.service.list_exports(owner=caller.user_id, size=10, token="", source="", state="")
        assert [(r.status, r.blob_key) for r in page.items] == [("failed", None), ("failed", None)]
        assert {r.error for r in page.items} == {"the prompt went away", "rendering failed (RuntimeError)"}
        assert not any(h.blobs.exists(f"exports/{r.id}") for r in page.items)
        h.renderer.failure = None
        row, reused = await h.create(caller)
        assert row.status == "completed" and not reused

    run(database, test)


def test_waiting_for_a_slow_rendering_ends_at_the_deadline(database: SessionDatabase) -> None:
    async def test(h: Harness) -> None:
        h.renderer.delay = 2.0
        caller = Caller()
        first = asyncio.ensure_future(h.create(caller))
        await h.renderer.started.wait()
        with pytest.raises(Unavailable) as waited:
            await h.create(caller, timeout=0.8)
        assert waited.value.reason == "EXPORT_IN_PROGRESS"
        row, reused = await first
        assert row.status == "completed" and not reused

    run(database, test)


def test_an_export_deleted_while_rendering_leaves_no_bytes(database: SessionDatabase) -> None:
    async def test(h: Harness) -> None:
        h.renderer.delay = 0.5
        caller = Caller()
        rendering = asyncio.ensure_future(h.create(caller))
        await h.renderer.started.wait()
        page = await h.service.list_exports(owner=caller.user_id, size=10, token="", source="", state="")
        [processing] = page.items
        await h.service.delete_export(owner=caller.user_id, export_id=str(processing.id))
        with pytest.raises(DepotError):
            await rendering
        assert not h.blobs.exists(f"exports/{processing.id}")

    run(database, test)
