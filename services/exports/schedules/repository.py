"""Every SQL statement of schedules and their runs. Statements only: the caller's unit of work commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.common.database import Session
from services.exports.models import Export
from services.exports.repository import COLUMNS as EXPORT_COLUMNS
from services.exports.repository import JOBS_CHANNEL, NOTIFY
from services.exports.rules import ExportRequest
from services.exports.schedules.models import Schedule

COLUMNS = tuple(Schedule.__table__.c)
# A run's source revision is read when a worker takes it (the receipt records it); until then:
PENDING_REVISION = "pending"


class SchedulesRepository:
    """Statements of one unit of work, on one connection."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        """A savepoint: what fails inside it is undone back to it, and the transaction goes on."""
        return self.session.connection.transaction()

    async def now(self) -> datetime:
        """The database's clock, which every replica shares."""
        return (await self.session.execute(select(func.now()))).scalar_one()  # type: ignore[no-any-return]

    async def insert(self, **values: Any) -> Any:
        """A new schedule."""
        stmt = pg_insert(Schedule).values(**values).returning(*COLUMNS)
        return (await self.session.execute(stmt)).one()

    async def get(self, *, schedule_id: uuid.UUID, owner: str) -> Any | None:
        """One of the owner's schedules."""
        stmt = select(*COLUMNS).where(Schedule.id == schedule_id, Schedule.owner == owner)
        return (await self.session.execute(stmt)).first()

    async def count(self, *, owner: str) -> int:
        """How many schedules the owner has, counted under the owner's lock of them (held until the
        transaction ends), so that concurrent creates cannot all find room for one more."""
        await self.session.lock(f"depot.exports.schedules:{owner}")
        stmt = select(func.count()).select_from(Schedule).where(Schedule.owner == owner)
        return int((await self.session.execute(stmt)).scalar_one())

    async def list(
        self, *, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Any]:
        """A page of the owner's schedules, newest first."""
        stmt = select(*COLUMNS).where(Schedule.owner == owner)
        if after is not None:
            stmt = stmt.where(tuple_(Schedule.created_at, Schedule.id) < tuple_(*after))
        stmt = stmt.order_by(Schedule.created_at.desc(), Schedule.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def delete(self, *, schedule_id: uuid.UUID, owner: str) -> bool:
        """Deletes a schedule (its runs stay, as exports); whether there was one."""
        stmt = delete(Schedule).where(Schedule.id == schedule_id, Schedule.owner == owner)
        return (await self.session.execute(stmt.returning(Schedule.id))).first() is not None

    async def runs(
        self, *, schedule_id: uuid.UUID, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Any]:
        """A page of a schedule's runs, newest first (windows are planned in order)."""
        stmt = select(*EXPORT_COLUMNS).where(Export.schedule_id == schedule_id, Export.owner == owner)
        if after is not None:
            stmt = stmt.where(tuple_(Export.created_at, Export.id) < tuple_(*after))
        stmt = stmt.order_by(Export.created_at.desc(), Export.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    # The planner -------------------------------------------------------------------------------

    async def claim_due(self, *, limit: int) -> Sequence[Any]:
        """Due schedules, locked until the transaction ends; those another replica holds are skipped."""
        stmt = (
            select(*COLUMNS)
            .where(Schedule.due_at <= func.now())
            .order_by(Schedule.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(stmt)).all()

    async def window_runs(self, *, schedule_id: uuid.UUID, window_start: datetime) -> Sequence[Any]:
        """Every run of one window, the latest first."""
        stmt = (
            select(Export.id, Export.status, Export.updated_at)
            .where(Export.schedule_id == schedule_id, Export.window_start == window_start)
            .order_by(Export.created_at.desc())
        )
        return (await self.session.execute(stmt)).all()

    async def insert_run(
        self, *, schedule: Any, request: ExportRequest, window_start: datetime, window_end: datetime
    ) -> Any | None:
        """A queued export job for one window (workers are woken on commit); None when the window
        already has a live run (uq_exports_schedule_window)."""
        stmt = (
            pg_insert(Export)
            .values(
                owner=schedule.owner,
                source=str(request.source),
                format=request.format,
                options=request.options,
                options_hash=request.options_hash,
                source_revision=PENDING_REVISION,
                media_type=request.media_type,
                filename=request.filename,
                status="queued",
                owner_is_admin=schedule.owner_is_admin,
                schedule_id=schedule.id,
                window_start=window_start,
                window_end=window_end,
            )
            .on_conflict_do_nothing()
            .returning(*EXPORT_COLUMNS)
        )
        row = (await self.session.execute(stmt)).first()
        if row is not None:
            await self.session.execute(NOTIFY, {"channel": JOBS_CHANNEL, "payload": ""})
        return row

    async def advance(self, *, schedule_id: uuid.UUID, **values: Any) -> None:
        """Moves a schedule's cursor, pending window or due time."""
        stmt = update(Schedule).where(Schedule.id == schedule_id).values(updated_at=func.now(), **values)
        await self.session.execute(stmt)

    async def destination(self, *, schedule_id: uuid.UUID) -> Any | None:
        """A schedule's destination and sealed credentials (for the delivery of a run)."""
        stmt = select(Schedule.destination, Schedule.credentials).where(Schedule.id == schedule_id)
        return (await self.session.execute(stmt)).first()


Units = Callable[[], AbstractAsyncContextManager[SchedulesRepository]]
