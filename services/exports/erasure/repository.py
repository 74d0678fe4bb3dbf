"""Every statement on the erasures table. Statements only: the caller's unit of work commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.common.database import Session
from services.exports.erasure.models import Erasure
from services.exports.repository import interval_of

COLUMNS = tuple(Erasure.__table__.c)
_UNFINISHED = Erasure.status != "completed"
_TAKEABLE = or_(
    Erasure.status == "queued",
    (Erasure.status == "processing") & (Erasure.lease_expires_at < func.now()),
)


class ErasuresRepository:
    """Statements of one unit of work, on one connection."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def start(self, *, subject: str, by_admin: bool) -> Any:
        """A new queued erasure of `subject`, or the unfinished one there already is."""
        stmt = (
            pg_insert(Erasure)
            .values(subject=subject, requested_by_admin=by_admin, status="queued")
            .on_conflict_do_nothing(index_elements=["subject"], index_where=Erasure.subject.is_not(None))
            .returning(*COLUMNS)
        )
        created = (await self.session.execute(stmt)).first()
        if created is not None:
            return created
        return (await self.session.execute(select(*COLUMNS).where(Erasure.subject == subject))).one()

    async def get(self, *, erasure_id: uuid.UUID) -> Any | None:
        """The erasure with this id, if any."""
        return (await self.session.execute(select(*COLUMNS).where(Erasure.id == erasure_id))).first()

    async def take(self, *, worker: str, lease_seconds: float) -> Any | None:
        """Leases the oldest erasure that is queued or whose worker's lease ran out, if any."""
        oldest = (
            select(Erasure.id)
            .where(_UNFINISHED, _TAKEABLE)
            .order_by(Erasure.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(Erasure)
            .where(Erasure.id == oldest)
            .values(
                status="processing",
                attempts=Erasure.attempts + 1,
                lease_owner=worker,
                lease_expires_at=func.now() + interval_of(lease_seconds),
                updated_at=func.now(),
            )
            .returning(*COLUMNS)
        )
        return (await self.session.execute(stmt)).first()

    async def progress(
        self, *, erasure_id: uuid.UUID, worker: str, steps: dict[str, Any], lease_seconds: float
    ) -> bool:
        """Records the steps and extends the lease; False when this worker no longer holds it."""
        stmt = (
            update(Erasure)
            .where(Erasure.id == erasure_id, Erasure.lease_owner == worker, Erasure.status == "processing")
            .values(
                steps=steps, lease_expires_at=func.now() + interval_of(lease_seconds), updated_at=func.now()
            )
        )
        return (await self.session.execute(stmt)).rowcount == 1

    async def complete(self, *, erasure_id: uuid.UUID, worker: str, steps: dict[str, Any]) -> bool:
        """Marks it completed and forgets whom it erased; False when this worker lost the lease."""
        stmt = (
            update(Erasure)
            .where(Erasure.id == erasure_id, Erasure.lease_owner == worker, Erasure.status == "processing")
            .values(
                status="completed",
                subject=None,
                steps=steps,
                lease_owner=None,
                lease_expires_at=None,
                last_error=None,
                completed_at=func.now(),
                updated_at=func.now(),
            )
        )
        return (await self.session.execute(stmt)).rowcount == 1

    async def failed(self, *, erasure_id: uuid.UUID, worker: str, error: str, retry_seconds: float) -> None:
        """Records why an attempt stopped and lets any replica take it again after `retry_seconds`."""
        stmt = (
            update(Erasure)
            .where(Erasure.id == erasure_id, Erasure.lease_owner == worker, Erasure.status == "processing")
            .values(
                last_error=error[:255],
                lease_expires_at=func.now() + interval_of(retry_seconds),
                updated_at=func.now(),
            )
        )
        await self.session.execute(stmt)
