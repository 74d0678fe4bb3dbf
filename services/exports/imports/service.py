"""Import use cases: store an upload and queue it; read a job; and the worker that runs queued jobs.

An upload is spooled to a scratch file as it arrives (counted against the limit, so memory holds
one message and an oversized body stops at the limit), then put in the blob store under
`imports/<id>`, and only then is the queued row committed (bytes before the row that points at
them). Any exports replica's worker claims the job under a lease, copies the upload to a scratch
file (zip needs random access), verifies the whole archive against its manifest, and only then
restores it (restorer.py) in a worker thread; the heartbeat extends the lease and records
progress. A refused archive fails the job with every problem listed and nothing written. When the
job ends its upload's bytes are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.background import Periodic
from services.common.errors import DepotError, NotFound, Unavailable
from services.common.ids import parse_id
from services.common.trace_context import linked_span
from services.exports.blobstores import BlobStore
from services.exports.imports import rules
from services.exports.imports.archive import ArchiveRefused, verify
from services.exports.imports.repository import ImportsRepository
from services.exports.imports.restorer import Progress, Restorer
from services.exports.rendering.renderers.chunks import file_chunks

log = logging.getLogger("depot.exports")
Units = Callable[[], AbstractAsyncContextManager[ImportsRepository]]


@dataclass(frozen=True)
class ImportSettings:
    """Limits and how this process works the import queue."""

    max_bytes: int  # DEPOT_IMPORT_MAX_BYTES: an upload over it is 413
    max_expanded_bytes: int  # what an archive may expand to (zip bombs)
    lease_seconds: float
    max_attempts: int
    poll_seconds: float


def blob_key(import_id: uuid.UUID) -> str:
    return f"imports/{import_id}"


class ImportsService:
    """Uploads, job reads, and this process's import worker."""

    def __init__(
        self,
        *,
        unit_of_work: Units,
        blobs: BlobStore,
        restorer_for: Callable[[str], Restorer],
        settings: ImportSettings,
        worker_name: str,
    ) -> None:
        self._uow, self._blobs, self._restorer_for = unit_of_work, blobs, restorer_for
        self._settings, self._name = settings, worker_name
        self._loop = Periodic(
            self.run_once, every=settings.poll_seconds, name="import_claim", until_idle=True
        )
        self._running: set[asyncio.Task[Any]] = set()

    async def create_import(
        self, *, owner: str, content_type: str, expected_size: int | None, chunks: AsyncIterator[bytes]
    ) -> Any:
        """Stores the upload and queues its import."""
        media = rules.content_type(content_type)
        limit = rules.size_limit(media, self._settings.max_bytes)
        if expected_size is not None:
            rules.check_size(expected_size, limit=limit)
        import_id = uuid.uuid4()
        key = blob_key(import_id)
        with tempfile.TemporaryDirectory(prefix="depot-import-") as scratch:
            path = Path(scratch) / "upload"
            size = await _spool(chunks, path, media=media, limit=limit)
            await asyncio.to_thread(self._blobs.put, key, file_chunks(path))
        try:
            async with self._uow() as repo:
                row = await repo.insert(
                    import_id=import_id, owner=owner, content_type=media, blob_key=key, size_bytes=size
                )
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._blobs.delete, key)
            raise
        self._loop.wake()
        return row

    async def get_import(self, *, owner: str, import_id: str) -> Any:
        """One of the owner's imports."""
        async with self._uow() as repo:
            row = await repo.get(import_id=parse_id(import_id, "import"), owner=owner)
        if row is None:
            raise NotFound(f"no import with id {import_id!r}")
        return row

    # The worker -------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop.start()

    async def drain(self, timeout: float) -> None:
        await self._loop.stop()  # the import under way goes on (shielded); none more is claimed
        if self._running:
            await asyncio.wait(list(self._running), timeout=timeout)

    async def run_once(self) -> bool:
        """Claims and runs one import, if there is one; whether one ran. Periodic repeats it: the claim
        (an idle poll) is no trace, a claimed import gets a trace of its own."""
        settings = self._settings
        async with self._uow() as repo:
            abandoned = await repo.fail_exhausted(max_attempts=settings.max_attempts)
            row = await repo.claim(
                worker=self._name,
                lease_seconds=settings.lease_seconds,
                max_attempts=settings.max_attempts,
            )
        for key in abandoned:
            await _delete(self._blobs, key)
        if row is None:
            return False
        task = asyncio.ensure_future(self._traced_run(row))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        await asyncio.shield(task)
        return True

    async def _traced_run(self, row: Any) -> None:
        attributes = {"depot.import_id": str(row.id), "depot.attempt": row.attempts}
        with linked_span("import.job", traceparent=None, attributes=attributes):
            await self._run(row)

    async def _run(self, row: Any) -> None:
        progress = Progress()
        beat = asyncio.ensure_future(self._heartbeat(row.id, progress))
        status = "completed"
        try:
            await asyncio.to_thread(self._restore, row, progress)
        except ArchiveRefused as exc:
            status, progress.errors = "failed", list(exc.problems)
        except Unavailable:
            log.warning("import_interrupted", extra={"import_id": str(row.id)}, exc_info=True)
            return  # the lease runs out and another attempt finishes the (idempotent) work
        except Exception as exc:
            if not isinstance(exc, DepotError):
                log.error("import_failed", exc_info=exc, extra={"import_id": str(row.id)})
            message = (
                exc.message if isinstance(exc, DepotError) else f"the import failed ({type(exc).__name__})"
            )
            status = "failed"
            progress.error("", message)
        finally:
            beat.cancel()
        async with self._uow() as repo:
            ended = await repo.finish(
                import_id=row.id, worker=self._name, status=status, progress=_progress(progress)
            )
        if ended and row.blob_key:
            await _delete(self._blobs, row.blob_key)

    def _restore(self, row: Any, progress: Progress) -> None:
        """Verifies, then restores (in a worker thread)."""
        restorer = self._restorer_for(row.owner)
        with tempfile.TemporaryDirectory(prefix="depot-import-") as scratch:
            path = Path(scratch) / "upload"
            with path.open("wb") as out:
                for chunk in self._blobs.open(row.blob_key):
                    out.write(chunk)
            if row.content_type == rules.JSON:
                restorer.restore_prompt_json(path.read_bytes(), progress)
                return
            entries = verify(path, max_expanded_bytes=self._settings.max_expanded_bytes)
            with zipfile.ZipFile(path) as archive:
                restorer.restore_archive(archive, entries, progress)

    async def _heartbeat(self, import_id: uuid.UUID, progress: Progress) -> None:
        while True:
            await asyncio.sleep(min(self._settings.lease_seconds / 3, 2.0))
            with contextlib.suppress(Exception):
                async with self._uow() as repo:
                    await repo.heartbeat(
                        import_id=import_id,
                        worker=self._name,
                        lease_seconds=self._settings.lease_seconds,
                        progress=_progress(progress),
                    )


async def _spool(chunks: AsyncIterator[bytes], path: Path, *, media: str, limit: int) -> int:
    """Writes the upload to `path` as it arrives; returns its size. Refused past the limit, or
    when its first or last bytes are not what the content type says."""
    size = 0
    start = end = b""
    with path.open("wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            rules.check_size(size, limit=limit)
            if len(start) < 64:
                start += chunk[:64]
            if media == rules.JSON and (kept := chunk.rstrip(rules.JSON_SPACE)):
                end = (end + kept[-64:])[-64:]  # the last bytes before trailing whitespace
            out.write(chunk)
    rules.check_ends(media, start, end)
    return size


def _progress(progress: Progress) -> dict[str, Any]:
    counts, skipped, errors = progress.snapshot()
    return {
        "counts": counts,
        "skipped": skipped,
        "errors": [{"path": path, "message": message} for path, message in errors],
    }


async def _delete(blobs: BlobStore, key: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.to_thread(blobs.delete, key)
