"""The background cleanup: expiry of exports and the sweep of bytes no export or import points at.

DESIGN.md rule 3: bytes are stored before the row that points at them commits, so a crash between
the two leaves bytes that no row points at. The sweep deletes those once they are older than a
grace period, and never bytes a row points at or bytes of an export still queued or rendering
(any segment of their key is its id, whatever the attempt). Uploads to restore (`imports/<id>`,
services/exports/imports) are stored before their job's row commits too, and are swept alike once
no import row points at them (a request that died before its row, a job whose delete failed). It
also clears what crashed writers left inside the store: temporary files (local) and incomplete
multipart uploads (S3).

Every exports process runs `run_once` each interval (a `Periodic` of services/common/background.py):
whichever replica takes the advisory lock removes expired exports (rows first, then their bytes) and
sweeps; the others skip that turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Protocol, runtime_checkable

from services.common.background import Periodic, one_replica_at_a_time
from services.common.database import Database
from services.common.stream_threads import close_iterator, in_own_thread
from services.common.trace_context import linked_span
from services.exports.blobstores import BlobEntry, BlobStore
from services.exports.lifecycle.repository import LifecycleRepository

log = logging.getLogger("depot.exports")

# Every key the service writes (rendering.work.blob_key, imports.service.blob_key); nothing else is
# touched.
SWEPT_PREFIXES = ("exports/", "imports/")
LOCK_NAME = "depot.exports.lifecycle"
BATCH = 500


@dataclass
class Swept:
    """What one sweep removed."""

    blobs: int = 0
    leftovers: int = 0


@runtime_checkable
class HasTemporaries(Protocol):
    def remove_abandoned_temporaries(self, *, older_than_seconds: float = ...) -> int: ...


@runtime_checkable
class HasUploads(Protocol):
    def abort_incomplete_uploads(self, *, older_than_seconds: float = ...) -> int: ...


class Sweeper:
    """The background cleanup of one exports process, over the exports schema and the blob store.
    It takes the database itself, not a unit of work: its turn is decided by a session advisory lock."""

    def __init__(
        self,
        *,
        database: Database,
        blobs: BlobStore,
        interval_seconds: float,
        grace_seconds: float,
    ) -> None:
        self._database = database
        self._uow = database.units_of_work(LifecycleRepository)
        self._blobs = blobs
        self._grace = grace_seconds
        self._loop = Periodic(self.run_once, every=interval_seconds, name="lifecycle_pass")

    async def remove_expired(self) -> int:
        """Deletes every export whose time is up, its links, then its bytes; returns how many."""
        removed = 0
        while True:
            async with self._uow() as repo:
                rows = await repo.delete_expired(limit=BATCH)
            await asyncio.to_thread(self._delete_blobs, [row.blob_key for row in rows if row.blob_key])
            for row in rows:
                log.info(
                    "export_expired",
                    extra={"export_id": str(row.id), "user": row.owner, "format": row.format},
                )
            removed += len(rows)
            if len(rows) < BATCH:
                return removed

    async def sweep(self, *, grace_seconds: float | None = None) -> Swept:
        """Deletes bytes no export or import points at that are older than the grace period, and what
        crashed writers left in the store; never bytes a row points at or bytes still being rendered."""
        grace = self._grace if grace_seconds is None else grace_seconds
        cutoff = datetime.now(UTC) - timedelta(seconds=grace)
        swept = Swept()
        listing = in_own_thread(_listed(self._blobs, BATCH), name="depot-sweep")
        async with contextlib.aclosing(listing) as batches:
            async for batch in batches:
                old = [e.key for e in batch if e.key.startswith(SWEPT_PREFIXES) and e.modified_at <= cutoff]
                swept.blobs += await self._sweep_keys(old)
        swept.leftovers = await asyncio.to_thread(self._clear_leftovers, grace)
        if swept.blobs or swept.leftovers:
            log.info("blobs_swept", extra={"blobs": swept.blobs, "leftovers": swept.leftovers})
        return swept

    async def _sweep_keys(self, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        owners = {key: _export_id(key) for key in keys}
        async with self._uow() as repo:
            referenced = await repo.referenced_keys(keys=keys)
            rendering = await repo.in_flight(ids=[i for i in owners.values() if i is not None])
        orphans = [k for k in keys if k not in referenced and owners[k] not in rendering]
        await asyncio.to_thread(self._delete_blobs, orphans)
        for key in orphans:
            log.info("orphan_blob_deleted", extra={"key": key})
        return len(orphans)

    def _delete_blobs(self, keys: Sequence[str]) -> None:
        for key in keys:
            try:
                self._blobs.delete(key)
            except Exception:  # the next sweep finds them again: bytes without a row harm no one
                log.warning("blob_delete_failed", extra={"key": key}, exc_info=True)

    def _clear_leftovers(self, grace: float) -> int:
        cleared = 0
        if isinstance(self._blobs, HasTemporaries):
            cleared += self._blobs.remove_abandoned_temporaries(older_than_seconds=grace)
        if isinstance(self._blobs, HasUploads):
            cleared += self._blobs.abort_incomplete_uploads(older_than_seconds=grace)
        return cleared

    async def run_once(self) -> bool:
        """One cleanup pass if no other replica is running one; returns whether this one ran it."""
        async with one_replica_at_a_time(self._database, LOCK_NAME) as held:
            if held:  # the others' look at the lock is no trace (Periodic); this pass's work is one
                with linked_span("export.lifecycle_pass", traceparent=None, attributes={}):
                    await self.remove_expired()
                    await self.sweep()
            return held

    def start(self) -> Sweeper:
        """Starts the cleanup loop, a pass now and then every interval (none if the interval is 0)."""
        self._loop.start()
        return self

    async def stop(self) -> None:
        await self._loop.stop()


def _listed(blobs: BlobStore, count: int) -> Iterator[list[BlobEntry]]:
    """The store's entries in lists of `count`, listed (and closed) by the thread that reads them."""
    entries = blobs.entries()
    try:
        while batch := list(islice(entries, count)):
            yield batch
    finally:
        close_iterator(entries)


def _export_id(key: str) -> uuid.UUID | None:
    """The export a key belongs to: the first segment that is an id (`exports/<id>`, `exports/<id>.2`)."""
    for segment in key.split("/"):
        with contextlib.suppress(ValueError):
            return uuid.UUID(segment.split(".")[0])
    return None
