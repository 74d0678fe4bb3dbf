"""Every SQL statement on import jobs: insert, read, claim under a lease, heartbeat, finish. The
caller's unit of work commits. A job is claimed with FOR UPDATE SKIP LOCKED, so replicas never take
the same one; one whose lease ran out (its worker died) is claimable again, and since a restore is
idempotent a second attempt just finishes the work."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import func, insert, or_, select, update

from services.common.database import Session
from services.exports.imports.models import Import
from services.exports.repository import interval_of

COLUMNS = tuple(Import.__table__.c)


class ImportsRepository:
    """Statements on `exports.imports`, within one unit of work."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def insert(
        self, *, import_id: uuid.UUID, owner: str, content_type: str, blob_key: str, size_bytes: int
    ) -> Any:
        """A queued import of stored bytes."""
        stmt = (
            insert(Import)
            .values(
                id=import_id,
                owner=owner,
                status="queued",
                content_type=content_type,
                blob_key=blob_key,
                size_bytes=size_bytes,
            )
            .returning(*COLUMNS)
        )
        return (await self.session.execute(stmt)).one()

    async def get(self, *, import_id: uuid.UUID, owner: str) -> Any | None:
        """One import of the owner."""
        stmt = select(*COLUMNS).where(Import.id == import_id, Import.owner == owner)
        return (await self.session.execute(stmt)).first()

    async def claim(self, *, worker: str, lease_seconds: float, max_attempts: int) -> Any | None:
        """The next import to run: queued, or processing with an expired lease and attempts left."""
        chosen = (
            select(Import.id)
            .where(
                or_(
                    Import.status == "queued",
                    (Import.status == "processing")
                    & (Import.lease_expires_at < func.now())
                    & (Import.attempts < max_attempts),
                )
            )
            .order_by(Import.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(Import)
            .where(Import.id == chosen)
            .values(
                status="processing",
                lease_owner=worker,
                lease_expires_at=func.now() + interval_of(lease_seconds),
                attempts=Import.attempts + 1,
                updated_at=func.now(),
            )
            .returning(*COLUMNS)
        )
        return (await self.session.execute(stmt)).first()

    async def heartbeat(
        self, *, import_id: uuid.UUID, worker: str, lease_seconds: float, progress: dict[str, Any]
    ) -> bool:
        """Extends the lease and records progress; False when the lease is no longer this worker's."""
        stmt = (
            _leased(import_id, worker)
            .values(lease_expires_at=func.now() + interval_of(lease_seconds), **_json(progress))
            .returning(Import.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def finish(
        self, *, import_id: uuid.UUID, worker: str, status: str, progress: dict[str, Any]
    ) -> bool:
        """Ends a leased import (completed or failed), forgetting its upload's key (the caller then
        deletes those bytes); False when the lease was lost meanwhile."""
        stmt = (
            _leased(import_id, worker)
            .values(
                status=status,
                lease_owner=None,
                lease_expires_at=None,
                blob_key=None,
                updated_at=func.now(),
                **_json(progress),
            )
            .returning(Import.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def fail_exhausted(self, *, max_attempts: int) -> list[str]:
        """Fails imports whose last allowed worker died; returns their uploads' keys to delete."""
        abandoned = (
            select(Import.id, Import.blob_key)
            .where(
                Import.status == "processing",
                Import.lease_expires_at < func.now(),
                Import.attempts >= max_attempts,
            )
            .with_for_update(skip_locked=True)
        )
        rows = (await self.session.execute(abandoned)).all()
        if rows:
            await self.session.execute(
                update(Import)
                .where(Import.id.in_([row.id for row in rows]))
                .values(
                    status="failed",
                    errors=Jsonb([{"path": "", "message": "abandoned: its worker stopped on every attempt"}]),
                    blob_key=None,
                    lease_owner=None,
                    updated_at=func.now(),
                )
            )
        return [row.blob_key for row in rows if row.blob_key]


def _json(progress: dict[str, Any]) -> dict[str, Any]:
    """Progress columns as their parameters: the error list as jsonb (a dict already is)."""
    return {**progress, "errors": Jsonb(progress["errors"])}


def _leased(import_id: uuid.UUID, worker: str) -> Any:
    return update(Import).where(
        Import.id == import_id, Import.status == "processing", Import.lease_owner == worker
    )
