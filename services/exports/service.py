"""Use cases of the exports domain: render once per cache key, reuse, list, read, delete.
Downloads and share links are in lifecycle/downloads.py; history and statistics in lifecycle/history.py,
expiry and the sweep in lifecycle/sweeper.py; the render itself in rendering/pipeline.py.

Plain Python over ports (repository unit of work, sources, render runner, blob store): no grpc.
Creating an export spans several short transactions on purpose, since a rendering may take
minutes and no transaction may be held across calls to other services:
  1. claim: under a per-owner advisory lock, find the live export of the cache key, or check the
     rate limit and insert a `processing` row (the partial unique index backs the lock up);
  2. render outside any transaction, the bytes into the blob store (rule 3: bytes first);
  3. complete: point the row at the bytes, or mark it `failed` with the reason.
Whoever finds a `processing` row waits for it, so concurrent first requests render once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from services.common.errors import DepotError, FailedPrecondition, NotFound, Unavailable
from services.common.ids import parse_id
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.exports import rules, telemetry
from services.exports.blobstores import BlobStore
from services.exports.jobs.policy import QueuePolicy, failure_reason, wait_seconds
from services.exports.ports import Caller, EndedPort, RenderPort, SourcePort, UnitOfWork
from services.exports.rendering.pipeline import render_and_record
from services.exports.rendering.work import Acting, Rendering, RenderJob, Resolved, blob_key, completion
from services.exports.rules import ExportRequest

log = logging.getLogger("depot.exports")

POLL_FIRST, POLL_MAX = 0.02, 0.25  # seconds between looks at another request's rendering
DEADLINE_MARGIN = 0.5  # answer before the caller's deadline passes rather than after
ENDED_STATES = ("completed", "failed")
RECHECK_SECONDS = 1.0  # a waiter looks at the row this often even if no notification came


class _Polling:
    """Without notifications, a waiter simply looks again after a pause."""

    async def wait_ended(self, export_id: uuid.UUID, timeout: float) -> None:
        await asyncio.sleep(min(timeout, POLL_MAX))


class ExportFailed(FailedPrecondition):
    default_reason = "EXPORT_FAILED"


class ExportsService:
    """The exports use cases, given their ports."""

    def __init__(
        self,
        *,
        unit_of_work: UnitOfWork,
        reads: UnitOfWork | None = None,
        sources: SourcePort,
        renderer: RenderPort,
        blobs: BlobStore,
        rate_limit_per_minute: int,
        default_timeout: float,
        ttl_seconds: int | None = None,
        queue: QueuePolicy | None = None,
        ended: EndedPort | None = None,
        wait_max_seconds: float = 30.0,
    ) -> None:
        self._uow = unit_of_work
        self._reads = reads or unit_of_work  # single-statement lookups (autocommit: one round trip)
        self._queue = queue  # which exports go to the job queue; None: every one renders here
        self._ended = ended or _Polling()
        self._wait_max = wait_max_seconds
        self._ttl = ttl_seconds  # how long a completed export lives; None: until deleted
        self._sources = sources
        self._renderer = renderer
        self._blobs = blobs
        self._rate_limit = rate_limit_per_minute
        self._default_timeout = default_timeout
        self._renders: set[asyncio.Task[Any]] = set()

    async def create_export(
        self, *, caller: Caller, source: str, fmt: str, options: dict[str, Any], timeout: float | None
    ) -> tuple[Any, bool]:
        """The completed export of (caller, source, format, options) at the source's current revision,
        rendered now or reused; the flag says whether it was reused. An export the queue policy
        sends to a worker is returned queued (or as its job stands, when one is under way)."""
        started = time.perf_counter()
        request = rules.export_request(
            source=source, fmt=fmt, options=options, is_admin=caller.is_admin, user_id=caller.user_id
        )
        budget = timeout if timeout is not None else self._default_timeout
        deadline = time.monotonic() + budget - DEADLINE_MARGIN
        acting = Acting(caller.user_id, caller.is_admin)
        resolved = await self._sources.resolve(request, acting=acting, timeout=budget)
        # A queued job reads its sources later, for the caller in the scope recorded with it.
        queued = bool(self._queue and self._queue.queues(request, resolved))
        while True:
            row, claimed = await self._claim(acting, request, resolved.revision, queued)
            if claimed and not queued:
                return await self._render_shielded(caller, request, resolved, row), False
            if row is None:  # the live export vanished between two looks: claim again
                continue
            if queued and row.status != "completed":
                return row, False  # a worker renders it; the caller follows its job
            done = row if row.status == "completed" else await self._await_render(row, deadline)
            if done is not None:
                done = await self._count_hit(done)
                telemetry.exported(
                    user=caller.user_id,
                    export_id=str(done.id),
                    source=done.source,
                    fmt=done.format,
                    size=done.size_bytes,
                    seconds=time.perf_counter() - started,
                    cache_hit=True,
                )
                return done, True

    async def _claim(
        self, acting: Acting, request: ExportRequest, revision: str, queued: bool
    ) -> tuple[Any, bool]:
        owner = acting.user_id
        async with self._uow() as repo:
            live = await repo.find_live(owner=owner, request=request, revision=revision)
            if live is not None:
                return live, False
            await repo.lock_owner(owner=owner)
            live = await repo.find_live(owner=owner, request=request, revision=revision)
            if live is not None:
                return live, False
            await repo.drop_expired(owner=owner, request=request, revision=revision)
            renders, oldest = await repo.recent_renders(owner=owner)
            rules.check_render_rate(
                renders=renders, oldest=oldest, now=await repo.now(), limit=self._rate_limit
            )
            if not queued:
                row = await repo.insert_processing(owner=owner, request=request, revision=revision)
            else:
                row = await repo.insert_queued(
                    owner=owner, request=request, revision=revision, owner_is_admin=acting.admin
                )
            if row is None:  # another replica won a race the lock did not cover
                return await repo.find_live(owner=owner, request=request, revision=revision), False
            await repo.prune_render_events(owner=owner)
            return row, True

    async def _count_hit(self, row: Any) -> Any:
        async with self._uow() as repo:
            counted = await repo.count_hit(export_id=row.id)
        return counted if counted is not None else row

    async def _await_render(self, row: Any, deadline: float) -> Any | None:
        """Waits for another request's rendering; None when it vanished or was abandoned (claim again)."""
        pause = POLL_FIRST
        while True:
            async with self._uow() as repo:
                current = await repo.get(export_id=row.id)
                if current is None:
                    return None
                if current.status == "completed":
                    return current
                if current.status == "failed":
                    raise ExportFailed(f"the export failed: {current.error}")
                now = await repo.now()
                if rules.is_stale(heartbeat=current.heartbeat_at, now=now):
                    stale_before = now - timedelta(seconds=rules.STALE_AFTER_SECONDS)
                    await repo.fail(
                        export_id=row.id, error="abandoned: its renderer stopped", stale_before=stale_before
                    )
                    return None
            if time.monotonic() + pause > deadline:
                raise Unavailable(
                    "the export is still being rendered; retry shortly", reason="EXPORT_IN_PROGRESS"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, POLL_MAX)

    async def _render_shielded(
        self, caller: Caller, request: ExportRequest, resolved: Resolved, row: Any
    ) -> Any:
        # The rendering outlives the request that started it: others may be waiting for it.
        task = asyncio.ensure_future(self._render(caller, request, resolved, row))
        self._renders.add(task)
        task.add_done_callback(self._renders.discard)
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _render(self, caller: Caller, request: ExportRequest, resolved: Resolved, row: Any) -> Any:
        job = RenderJob(row.id, request, resolved, Acting(caller.user_id, caller.is_admin), blob_key(row.id))
        done = await render_and_record(
            job,
            render=self._renderer.render,
            blobs=self._blobs,
            complete=self._complete,
            fail=functools.partial(self._fail, row.id),
            heartbeat=self._heartbeat,
        )
        if done is None:
            raise NotFound(f"export {row.id} was deleted while it was being rendered")
        return done

    async def _complete(self, job: RenderJob, rendering: Rendering) -> tuple[bool, Any]:
        async with self._uow() as repo:
            return True, await repo.complete(
                export_id=job.export_id, **completion(job, rendering), ttl_seconds=self._ttl
            )

    async def _fail(self, export_id: uuid.UUID, exc: Exception) -> str:
        if not isinstance(exc, DepotError):
            log.error("render_failed", exc_info=exc, extra={"export_id": str(export_id)})
        message = failure_reason(exc)
        async with self._uow() as repo:
            await repo.fail(export_id=export_id, error=message)
        return message

    async def _heartbeat(self, job: RenderJob) -> None:
        while True:
            await asyncio.sleep(rules.HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):  # a missed beat is retried; staleness takes many
                async with self._uow() as repo:
                    await repo.heartbeat(export_id=job.export_id)

    async def drain(self, timeout: float) -> None:
        """Lets running renders finish (at shutdown), up to `timeout` seconds."""
        if self._renders:
            await asyncio.wait(list(self._renders), timeout=timeout)

    # Reading and managing exports -------------------------------------------------------------

    async def get_export(self, *, owner: str, export_id: str) -> Any:
        """One of the owner's exports."""
        async with self._reads() as repo:
            row = await repo.get(export_id=parse_id(export_id, "export"), owner=owner)
        if row is None:
            raise NotFound(f"no export with id {export_id!r}")
        return row

    async def wait_export(self, *, owner: str, export_id: str, seconds: float, timeout: float | None) -> Any:
        """One of the owner's exports once it has ended (completed or failed), or as it stands when
        the wait (cut to its bound, and to the caller's deadline) is over."""
        wait = wait_seconds(seconds, bound=self._wait_max)
        if timeout is not None:
            wait = min(wait, max(timeout - DEADLINE_MARGIN, 0.0))
        deadline = time.monotonic() + wait
        while True:
            row = await self.get_export(owner=owner, export_id=export_id)
            left = deadline - time.monotonic()
            if row.status in ENDED_STATES or left <= 0:
                return row
            await self._ended.wait_ended(row.id, min(left, RECHECK_SECONDS))

    async def list_exports(self, *, owner: str, size: int, token: str, source: str, state: str) -> Page:
        """The owner's exports, newest first, optionally of one source or in one state."""
        limit = page_size(size)
        source = str(rules.parse_source(source)) if source else ""
        async with self._uow() as repo:
            rows = await repo.list(
                owner=owner, limit=limit + 1, after=decode_cursor(token), source=source, status=state
            )
        return paged(rows, limit)

    async def delete_export(self, *, owner: str, export_id: str) -> None:
        """Deletes the row first, then its bytes (no row may point at missing bytes)."""
        async with self._uow() as repo:
            row = await repo.delete(export_id=parse_id(export_id, "export"), owner=owner)
        if row is None:
            raise NotFound(f"no export with id {export_id!r}")
        if row.blob_key:
            try:
                await asyncio.to_thread(self._blobs.delete, row.blob_key)
            except Exception:  # left for the sweeper: bytes without a row harm no one
                log.warning("blob_delete_failed", extra={"export_id": export_id}, exc_info=True)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Marks a finished rendering's outcome as seen (its requester may have gone)."""
    if not task.cancelled():
        task.exception()
