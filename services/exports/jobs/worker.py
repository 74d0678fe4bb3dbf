"""The job worker of one exports process: takes queued exports and renders them under a lease.

Any number of processes run one each; PostgreSQL hands every job to one of them (queue.py).
A worker renders at most `concurrency` jobs at once, reading the sources for the job's owner
with service tokens minted per call (rendering/sources.py), admin only when the owner asked as one; no
bearer token is stored, so a job runs however long it waited in the queue. While a job runs its heartbeat extends the lease and records
progress; if the lease is lost anyway (a long pause, PostgreSQL away for longer than the lease)
the render stops and whatever it wrote is dropped, since another worker has the job by then.
A failure that another attempt may mend puts the job back in the queue after a pause; anything
else, or the last allowed attempt, fails the export with the reason. At shutdown the worker
stops taking jobs, lets running ones finish within the grace period, and gives the rest back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from services.common.errors import DepotError
from services.common.trace_context import linked_span, untraced
from services.exports.blobstores import BlobStore
from services.exports.jobs.policy import failure_reason, retries, retry_delay, stored_request
from services.exports.jobs.queue import JobQueue
from services.exports.ports import RenderPort, SourcePort, UnitOfWork
from services.exports.rendering.pipeline import record_failure, render_and_record
from services.exports.rendering.work import Acting, Rendering, RenderJob, blob_key, completion

log = logging.getLogger("depot.exports")
T = TypeVar("T")

PROGRESS_SECONDS = 2.0  # the heartbeat also reports progress, so it beats at least this often
OUTCOME_RETRY_FIRST = 0.25  # seconds between attempts to record an outcome while PostgreSQL is away

QueueUnits = Callable[[], AbstractAsyncContextManager[JobQueue]]
# Copies a scheduled run's stored bytes (blob key, content encoding) to its schedule's destination:
# where they went, or None for this deployment's store (services/exports/schedules/destinations.py).
Deliver = Callable[[Any, str, str | None], Awaitable[str | None]]


@dataclass(frozen=True)
class JobSettings:
    """How this process works the queue (DEPOT_EXPORT_JOB_* and friends)."""

    concurrency: int
    lease_seconds: float
    max_attempts: int
    poll_seconds: float
    lookup_timeout: float  # for finding the source again as the job starts
    ttl_seconds: int | None = None  # how long a completed export lives; None: until deleted


def worker_name() -> str:
    """Names this process in lease_owner: host and PID (an operator can find it), plus a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobWorker:
    """Claims jobs while there is room, runs each in its own task, and drains at shutdown."""

    def __init__(
        self,
        *,
        queues: QueueUnits,
        exports: UnitOfWork,
        sources: SourcePort,
        renderer: RenderPort,
        blobs: BlobStore,
        wake: asyncio.Event,
        settings: JobSettings,
        name: str | None = None,
        deliver: Deliver | None = None,
    ) -> None:
        self.name = name or worker_name()
        self._queues, self._exports = queues, exports
        self._sources, self._renderer, self._blobs = sources, renderer, blobs
        self._wake = wake  # set when a job is queued anywhere
        self._settings = settings
        self._deliver = deliver
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.ensure_future(self._claim_forever())

    async def _claim_forever(self) -> None:
        while True:
            await self._slots.acquire()
            self._wake.clear()  # before looking, so a job queued meanwhile wakes the next wait
            with untraced():  # an idle poll is no trace; a claimed job's span starts in _traced_run
                row = await self._claim()
            if row is None:
                self._slots.release()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.poll_seconds):
                        await self._wake.wait()
                continue
            task = asyncio.ensure_future(self._traced_run(row))
            self._running[row.id] = task
            task.add_done_callback(functools.partial(self._finished, row.id))

    def _finished(self, export_id: uuid.UUID, _: asyncio.Task[None]) -> None:
        self._running.pop(export_id, None)
        self._slots.release()

    async def _claim(self) -> Any | None:
        settings = self._settings
        try:
            async with self._queues() as queue:
                await queue.fail_exhausted(max_attempts=settings.max_attempts)
                return await queue.claim(
                    worker=self.name, lease_seconds=settings.lease_seconds, max_attempts=settings.max_attempts
                )
        except Exception as exc:  # PostgreSQL away: look again after the poll interval
            log.warning("job_claim_failed", extra={"error": type(exc).__name__})
            return None

    async def _traced_run(self, row: Any) -> None:
        """The job in a trace of its own, linked to the trace of the request that queued it."""
        attributes = {"depot.export_id": str(row.id), "depot.attempt": row.attempts}
        with linked_span("export.job", traceparent=row.traceparent, attributes=attributes):
            await self._run(row)

    async def _run(self, row: Any) -> None:
        request = stored_request(source=row.source, fmt=row.format, options=row.options)
        log.info(
            "job_started", extra={"export_id": str(row.id), "attempt": row.attempts, "worker": self.name}
        )
        fail = functools.partial(self._failed, row)
        acting = Acting(row.owner, row.owner_is_admin)
        try:
            resolved = await self._sources.resolve(
                request, acting=acting, timeout=self._settings.lookup_timeout
            )
        except Exception as exc:  # the source is gone, or its service away: nothing was rendered
            await record_failure(
                fail, exc, user=row.owner, export_id=row.id, source=row.source, fmt=row.format
            )
            return
        job = RenderJob(row.id, request, resolved, acting, blob_key(row.id, row.attempts))
        delivered: dict[str, str | None] = {}  # a scheduled run's destination, filled by its render
        render = self._renderer.render
        if row.schedule_id is not None and self._deliver is not None:
            render = functools.partial(self._render_and_deliver, row, delivered)
        with contextlib.suppress(Exception):  # recorded by the pipeline (a retry or a failed export)
            await render_and_record(
                job,
                render=render,
                blobs=self._blobs,
                complete=functools.partial(self._complete, row, delivered),
                fail=fail,
                heartbeat=self._heartbeat,
            )

    async def _heartbeat(self, job: RenderJob) -> None:
        settings = self._settings
        while True:
            await asyncio.sleep(min(settings.lease_seconds / 3, PROGRESS_SECONDS))
            try:
                async with self._queues() as queue:
                    held = await queue.heartbeat(
                        export_id=job.export_id,
                        worker=self.name,
                        lease_seconds=settings.lease_seconds,
                        rows_rendered=job.progress.row_count,
                    )
            except Exception:  # a missed beat; the lease outlasts several
                continue
            if not held:
                log.warning("job_lease_lost", extra={"export_id": str(job.export_id), "worker": self.name})
                job.cancelled.set()
                return

    async def _render_and_deliver(
        self, row: Any, delivered: dict[str, str | None], job: RenderJob
    ) -> Rendering:
        """A scheduled run: rendered into this store, then copied to its destination; a failed copy
        fails the render (retried like any failure; the pipeline drops the stored bytes)."""
        assert self._deliver is not None
        rendering = await self._renderer.render(job)
        delivered["to"] = await self._deliver(row, job.blob_key, rendering.encoding)
        return rendering

    async def _complete(
        self, row: Any, delivered: dict[str, str | None], job: RenderJob, rendering: Rendering
    ) -> tuple[bool, Any]:
        scheduled = {}
        if row.schedule_id is not None:
            scheduled = {"delivered_to": delivered.get("to"), "source_revision": job.resolved.revision}

        async def complete() -> Any:
            async with self._exports() as repo:
                return await repo.complete(
                    export_id=row.id,
                    **completion(job, rendering),
                    lease_owner=self.name,
                    ttl_seconds=self._settings.ttl_seconds,
                    **scheduled,
                )

        recorded, done = await self._persist(complete, row)
        if recorded and done is None:  # the lease was lost, or the export deleted, meanwhile
            log.warning("job_result_refused", extra={"export_id": str(row.id), "worker": self.name})
        return recorded, done

    async def _failed(self, row: Any, exc: Exception) -> str | None:
        """Queues another attempt when one may mend the failure (None), else fails the export: the
        reason, or None when PostgreSQL did not take it within the lease."""
        if not isinstance(exc, DepotError):
            log.error("job_failed", exc_info=exc, extra={"export_id": str(row.id)})
        reason = failure_reason(exc)
        if retries(exc, attempts=row.attempts, max_attempts=self._settings.max_attempts):
            delay = retry_delay(row.attempts)

            async def release() -> bool:
                async with self._queues() as queue:
                    return await queue.release(
                        export_id=row.id, worker=self.name, retry_in=delay, error=reason, spent=True
                    )

            log.info("job_retry", extra={"export_id": str(row.id), "retry_in": delay, "reason": reason})
            await self._persist(release, row)
            return None
        final = reason if row.attempts <= 1 else f"{reason} (after {row.attempts} attempts)"

        async def fail() -> bool:
            async with self._exports() as repo:
                return await repo.fail(export_id=row.id, error=final, lease_owner=self.name)

        _, failed = await self._persist(fail, row)
        return final if failed else None

    async def _persist(self, action: Callable[[], Awaitable[T]], row: Any) -> tuple[bool, T | None]:
        """Runs `action` until PostgreSQL takes it, for as long as the lease would last; then gives
        up, and the expired lease hands the job to the next worker. (recorded?, its result)"""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._settings.lease_seconds
        pause = OUTCOME_RETRY_FIRST
        while True:
            try:
                return True, await action()
            except Exception as exc:
                if loop.time() + pause > give_up:
                    log.warning(
                        "job_outcome_lost", extra={"export_id": str(row.id), "error": type(exc).__name__}
                    )
                    return False, None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def drain(self, timeout: float) -> None:
        """Stops taking jobs, lets running ones finish for up to `timeout` seconds, gives the rest back."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        running = dict(self._running)
        if running:
            await asyncio.wait(running.values(), timeout=timeout)
        unfinished = [export_id for export_id, task in running.items() if not task.done()]
        for export_id in unfinished:
            running[export_id].cancel()
        await asyncio.gather(*(running[i] for i in unfinished), return_exceptions=True)
        for export_id in unfinished:
            with contextlib.suppress(Exception):
                async with self._queues() as queue:
                    await queue.release(
                        export_id=export_id, worker=self.name, retry_in=0, error=None, spent=False
                    )
            log.info("job_released", extra={"export_id": str(export_id), "worker": self.name})
