"""One render pipeline for both paths: the in-request render (service.py) and the job worker
(jobs/worker.py). The runner (runner.py) reads the source, renders and stores the bytes in a worker
thread; this completes or fails the row, drops bytes no row will point at, and emits telemetry.
What differs between the paths is how an outcome is written, so each passes its own `complete`
and `fail`: the request path writes at once; the worker writes under its lease, retrying while
PostgreSQL is away, and may queue another attempt instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from services.exports import telemetry
from services.exports.blobstores import BlobStore
from services.exports.rendering.work import Rendering, RenderJob

# (recorded?, the completed row, or None when the row refused it: deleted, or the lease lost)
Complete = Callable[[RenderJob, Rendering], Awaitable[tuple[bool, Any]]]
# The reason recorded as the export's failure, or None when none was (another attempt is queued,
# or the outcome could not be written).
Fail = Callable[[Exception], Awaitable[str | None]]


async def render_and_record(
    job: RenderJob,
    *,
    render: Callable[[RenderJob], Awaitable[Rendering]],
    blobs: BlobStore,
    complete: Complete,
    fail: Fail,
    heartbeat: Callable[[RenderJob], Awaitable[None]],
) -> Any | None:
    """Renders `job` while `heartbeat` runs, then completes its row: the completed row, or None
    when the row refused it. A failed render is recorded (unless the job was taken from this
    process) and its exception raised again; cancellation stops the render thread."""
    beat = asyncio.ensure_future(heartbeat(job))
    try:
        rendering = await render(job)
    except asyncio.CancelledError:
        job.cancelled.set()
        raise
    except Exception as exc:
        await discard(blobs, job.blob_key)  # a store may hold a partial write
        if not job.cancelled.is_set():  # else the lease was lost: another worker has the job now
            await record_failure(
                fail,
                exc,
                user=job.acting.user_id,
                export_id=job.export_id,
                source=str(job.request.source),
                fmt=job.request.format,
            )
        raise
    finally:
        beat.cancel()
    recorded, done = await complete(job, rendering)
    if recorded and done is None:  # no row will ever point at these bytes
        await discard(blobs, job.blob_key)
    if done is not None:
        telemetry.exported(
            user=job.acting.user_id,
            export_id=str(job.export_id),
            source=str(job.request.source),
            fmt=job.request.format,
            size=rendering.size,
            seconds=rendering.seconds,
            cache_hit=False,
        )
    return done


async def record_failure(
    fail: Fail, exc: Exception, *, user: str, export_id: Any, source: str, fmt: str
) -> None:
    """Fails the export (or queues another attempt) and counts a recorded failure; also for a job
    that failed before its rendering started (its source could not be found)."""
    reason = await fail(exc)
    if reason is not None:
        telemetry.render_failed(user=user, export_id=str(export_id), source=source, fmt=fmt, reason=reason)


async def discard(blobs: BlobStore, key: str) -> None:
    """Deletes bytes no row points at; best effort, since the sweeper removes what is left."""
    with contextlib.suppress(Exception):
        await asyncio.to_thread(blobs.delete, key)
