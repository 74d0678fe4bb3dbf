"""Retention of chat files: files neither read nor written for DEPOT_FILE_RETENTION_DAYS are removed.

A file's last_accessed_at is set by every write and, at most once an hour, by a download. Every
files process runs the pass each interval; whichever replica takes the advisory lock does the work
and the others skip that turn (services/common/background.py). Each file is removed in its own
transaction with the writers' lock order (chat, file, usage) and only if it is still stale under
those locks, so a file read while the pass runs is kept, and the owner's usage drops with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.background import Periodic, one_replica_at_a_time
from services.common.database import Database
from services.common.trace_context import linked_span
from services.files import quota
from services.files.repository import FilesRepository

log = logging.getLogger("depot.files")

LOCK_NAME = "depot.files.retention"
BATCH = 500


@dataclass(frozen=True)
class Sweep:
    """What a pass found (dry run) or removed: the first files of it, and the whole count and bytes."""

    files: Sequence[Any]
    file_count: int
    total_bytes: int


class FileRetention:
    """The retention pass over the files schema."""

    def __init__(self, *, database: Database, days: int, interval_seconds: float) -> None:
        self._database = database
        self._uow = database.units_of_work(FilesRepository)
        self.days = days
        self._loop = Periodic(
            self.run_once, every=interval_seconds, name="file_retention_pass", wait_first=True
        )

    def cutoff(self) -> datetime:
        """Files last used before this are stale."""
        return datetime.now(UTC) - timedelta(days=self.days)

    async def sweep(self, *, dry_run: bool, listed: int = 50) -> Sweep:
        """Lists (dry_run) or removes every stale file; the answer names the first `listed`."""
        before = self.cutoff()
        if dry_run:
            async with self._database.connection() as session:
                repo = FilesRepository(session)
                files = await repo.stale_files(before=before, limit=listed)
                count, total = await repo.stale_totals(before=before)
            return Sweep(files, count, total)
        removed: list[Any] = []
        while True:
            async with self._database.connection() as session:
                batch = await FilesRepository(session).stale_files(before=before, limit=BATCH)
            gone = [row for row in [await self._remove(file, before) for file in batch] if row is not None]
            removed.extend(gone)
            if len(batch) < BATCH or not gone:
                break
        return Sweep(removed[:listed], len(removed), sum(row.size_bytes for row in removed))

    async def _remove(self, file: Any, before: datetime) -> Any | None:
        """Removes one file if it is still stale under the chat's and its own lock; returns it, or None."""
        async with self._uow() as repo:
            if not await repo.lock_chat(owner=file.owner, chat_id=file.chat_id):
                return None
            current = await repo.get_file(
                owner=file.owner, chat_id=file.chat_id, filename=file.filename, for_update=True
            )
            if current is None or current.id != file.id or current.last_accessed_at >= before:
                return None
            await repo.bump_chat(owner=file.owner, chat_id=file.chat_id)
            await repo.delete_file(file_id=current.id)
            await quota.charge(repo, owner=file.owner, delta=-current.size_bytes, default_quota=0)
        log.info(
            "file_retention_removed",
            extra={
                "owner": current.owner,
                "chat_id": current.chat_id,
                "file_id": str(current.id),
                "size_bytes": current.size_bytes,
                "last_accessed_at": current.last_accessed_at.isoformat(),
                "retention_days": self.days,
            },
        )
        return current

    async def run_once(self) -> bool:
        """One pass if this replica takes the lock; False when another replica holds it."""
        async with one_replica_at_a_time(self._database, LOCK_NAME) as held:
            if held:  # the others' look at the lock is no trace (Periodic); this pass's work is one
                with linked_span("files.retention_pass", traceparent=None, attributes={}):
                    sweep = await self.sweep(dry_run=False)
                log.info(
                    "file_retention_pass",
                    extra={"removed_files": sweep.file_count, "removed_bytes": sweep.total_bytes},
                )
            return held

    def start(self) -> FileRetention:
        """Starts the periodic pass; the first runs one interval after start-up."""
        self._loop.start()
        return self

    async def stop(self) -> None:
        await self._loop.stop()
