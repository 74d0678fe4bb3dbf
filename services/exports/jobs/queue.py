"""Every SQL statement of the job queue: claim, heartbeat, release. Statements only: the caller's
unit of work commits.

A job is an export row. `queued` rows wait in created order (ix_exports_queue); a worker claims
one with FOR UPDATE SKIP LOCKED, so concurrent workers never wait for each other or take the
same row, and turns it `processing` under its lease. A `processing` job whose lease ran out
(its worker died or lost PostgreSQL) is claimable again (ix_exports_leases), until its attempts
are spent. Every statement on a claimed job names the lease owner, so a worker that lost its lease
changes nothing. A queued row's `lease_expires_at` is its retry time: nobody holds it, and nobody
may take it before then.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select, text, update

from services.common.database import Session
from services.exports.models import Export
from services.exports.repository import COLUMNS, ENDED_CHANNEL, JOB_ENDED, NOTIFY, interval_of


class JobQueue:
    """Statements on queued and leased export rows, within one unit of work."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def claim(self, *, worker: str, lease_seconds: float, max_attempts: int) -> Any | None:
        """Takes the next job, if any: first a leased one whose worker is gone, then the oldest queued."""
        expired = (
            select(Export.id)
            .where(
                Export.status == "processing",
                Export.lease_expires_at < func.now(),
                Export.attempts < max_attempts,
            )
            .order_by(Export.lease_expires_at)
        )
        queued = (
            select(Export.id)
            .where(
                Export.status == "queued",
                or_(Export.lease_expires_at.is_(None), Export.lease_expires_at <= func.now()),
            )
            .order_by(Export.created_at)
        )
        for candidates in (expired, queued):
            row = await self._take(candidates, worker=worker, lease_seconds=lease_seconds)
            if row is not None:
                return row
        return None

    async def _take(self, candidates: Any, *, worker: str, lease_seconds: float) -> Any | None:
        chosen = candidates.limit(1).with_for_update(skip_locked=True).scalar_subquery()
        stmt = (
            update(Export)
            .where(Export.id == chosen)
            .values(
                status="processing",
                lease_owner=worker,
                lease_expires_at=func.now() + interval_of(lease_seconds),
                attempts=Export.attempts + 1,
                rows_rendered=0,
                heartbeat_at=func.now(),
                updated_at=func.now(),
            )
            .returning(*COLUMNS)
        )
        return (await self.session.execute(stmt)).first()

    async def heartbeat(
        self, *, export_id: uuid.UUID, worker: str, lease_seconds: float, rows_rendered: int
    ) -> bool:
        """Extends the worker's lease and records progress; False when the lease is no longer its own."""
        stmt = (
            _leased(export_id, worker)
            .values(
                lease_expires_at=func.now() + interval_of(lease_seconds),
                rows_rendered=rows_rendered,
                heartbeat_at=func.now(),
            )
            .returning(Export.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def release(
        self, *, export_id: uuid.UUID, worker: str, retry_in: float, error: str | None, spent: bool
    ) -> bool:
        """Puts a leased job back in the queue, claimable after `retry_in` seconds. An attempt that
        was not `spent` (the worker is shutting down) is given back."""
        stmt = _leased(export_id, worker).values(
            status="queued",
            lease_owner=None,
            lease_expires_at=func.now() + interval_of(retry_in),
            attempts=Export.attempts if spent else Export.attempts - 1,
            error=error,
            updated_at=func.now(),
        )
        return (await self.session.execute(stmt.returning(Export.id))).first() is not None

    async def fail_exhausted(self, *, max_attempts: int) -> list[uuid.UUID]:
        """Fails the jobs whose last allowed worker died (lease ran out, no attempt left)."""
        stmt = (
            update(Export)
            .where(
                Export.status == "processing",
                Export.lease_expires_at < func.now(),
                Export.attempts >= max_attempts,
            )
            .values(
                status="failed",
                error=text(
                    "'abandoned: its worker stopped on each of ' || attempts || ' attempts'"
                    " || coalesce(' (last error: ' || error || ')', '')"
                ),
                updated_at=func.now(),
                **JOB_ENDED,
            )
            .returning(Export.id)
        )
        failed = [row.id for row in (await self.session.execute(stmt)).all()]
        for export_id in failed:
            await self.session.execute(NOTIFY, {"channel": ENDED_CHANNEL, "payload": str(export_id)})
        return failed


def _leased(export_id: uuid.UUID, worker: str) -> Any:
    return update(Export).where(
        Export.id == export_id, Export.status == "processing", Export.lease_owner == worker
    )
