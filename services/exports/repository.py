"""Every SQL statement on export rows, share links and the render log. Statements only:
the caller's unit of work commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.common.database import Query, Session
from services.common.trace_context import current_traceparent
from services.exports.models import Export, RenderEvent
from services.exports.rules import RATE_WINDOW_SECONDS, ExportRequest

COLUMNS = tuple(Export.__table__.c)
# An export past its expiry is gone to its owner at once, before the cleanup removes it.
UNEXPIRED = or_(Export.expires_at.is_(None), Export.expires_at > func.now())


_OWNED_EXPORT = Query(
    select(*COLUMNS).where(Export.id == bindparam("id"), Export.owner == bindparam("owner"), UNEXPIRED)
)

# A job that ends holds no lease (the lease owner stays, as a record).
JOB_ENDED: dict[str, Any] = {"lease_expires_at": None}
NOTIFY = text("SELECT pg_notify(:channel, :payload)")
# What the NOTIFYs above are sent on; jobs/signals.py listens on both.
JOBS_CHANNEL = "depot_export_jobs"  # a job was queued
ENDED_CHANNEL = "depot_export_ended"  # an export completed or failed (payload: its id)


def _processing(export_id: uuid.UUID, lease_owner: str | None) -> Any:
    """An update of a processing export; of a job only while `lease_owner` still holds it."""
    stmt = update(Export).where(Export.id == export_id, Export.status == "processing")
    return stmt if lease_owner is None else stmt.where(Export.lease_owner == lease_owner)


def interval_of(value: float) -> Any:
    """An interval of `value` seconds, sent as a parameter (one statement shape for every value)."""
    return func.make_interval(0, 0, 0, 0, 0, 0, float(value))


def _expiry(ttl_seconds: int | None) -> Any:
    """When an export completed now expires: `ttl_seconds` from now, or never."""
    return None if ttl_seconds is None else func.now() + interval_of(ttl_seconds)


def _key(owner: str, request: ExportRequest, revision: str) -> Any:
    return and_(
        Export.owner == owner,
        Export.source == str(request.source),
        Export.format == request.format,
        Export.options_hash == request.options_hash,
        Export.source_revision == revision,
        Export.status != "failed",
    )


def _live_key(owner: str, request: ExportRequest, revision: str) -> Any:
    return and_(_key(owner, request, revision), UNEXPIRED)


class ExportsRepository:
    """Statements of one unit of work, on one connection."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def now(self) -> datetime:
        """The database's clock, so every replica agrees on windows and heartbeats."""
        return (await self.session.execute(select(func.now()))).scalar_one()  # type: ignore[no-any-return]

    async def find_live(self, *, owner: str, request: ExportRequest, revision: str) -> Any | None:
        """The processing or completed export of this cache key, if any."""
        stmt = select(*COLUMNS).where(_live_key(owner, request, revision))
        return (await self.session.execute(stmt)).first()

    async def drop_expired(self, *, owner: str, request: ExportRequest, revision: str) -> None:
        """Deletes this key's expired export, which would otherwise hold the key's place in the
        render-once index; its bytes, pointed at by nothing now, are the sweeper's."""
        await self.session.execute(delete(Export).where(_key(owner, request, revision), ~UNEXPIRED))

    async def lock_owner(self, *, owner: str) -> None:
        """Serialises the render decisions of one owner until the transaction ends (every replica)."""
        await self.session.lock(f"depot.exports.render:{owner}")

    async def recent_renders(self, *, owner: str) -> tuple[int, datetime | None]:
        """How many renders the owner started within the rate window, and when the oldest started."""
        window = func.now() - interval_of(RATE_WINDOW_SECONDS)
        stmt = select(func.count(), func.min(RenderEvent.created_at)).where(
            RenderEvent.owner == owner, RenderEvent.created_at > window
        )
        count, oldest = (await self.session.execute(stmt)).one()
        return int(count), oldest

    async def insert_processing(self, *, owner: str, request: ExportRequest, revision: str) -> Any | None:
        """A new processing export and one render event; None when the key already has a live export."""
        return await self._insert_live(owner, request, revision, status="processing")

    async def insert_queued(
        self, *, owner: str, request: ExportRequest, revision: str, owner_is_admin: bool
    ) -> Any | None:
        """A new queued export job (with whether its owner asked as an admin: the scope the worker
        reads in) and the asking request's traceparent, and one render event; the workers are woken
        when the transaction commits.
        None when the key already has a live export."""
        row = await self._insert_live(
            owner,
            request,
            revision,
            status="queued",
            owner_is_admin=owner_is_admin,
            traceparent=current_traceparent(),
        )
        if row is not None:
            await self.session.execute(NOTIFY, {"channel": JOBS_CHANNEL, "payload": ""})
        return row

    async def _insert_live(
        self, owner: str, request: ExportRequest, revision: str, **state: str | bool | None
    ) -> Any | None:
        stmt = (
            pg_insert(Export)
            .values(
                owner=owner,
                source=str(request.source),
                format=request.format,
                options=request.options,
                options_hash=request.options_hash,
                source_revision=revision,
                media_type=request.media_type,
                filename=request.filename,
                **state,
            )
            .on_conflict_do_nothing(
                index_elements=["owner", "source", "format", "options_hash", "source_revision"],
                index_where=text("status <> 'failed'"),
            )
            .returning(*COLUMNS)
        )
        row = (await self.session.execute(stmt)).first()
        if row is not None:
            await self.session.execute(insert(RenderEvent).values(owner=owner))
        return row

    async def prune_render_events(self, *, owner: str) -> None:
        """Forgets the owner's render events older than the window."""
        window = func.now() - interval_of(RATE_WINDOW_SECONDS)
        await self.session.execute(
            delete(RenderEvent).where(RenderEvent.owner == owner, RenderEvent.created_at <= window)
        )

    async def get(self, *, export_id: uuid.UUID, owner: str | None = None) -> Any | None:
        """One export; scoped to `owner` unless None."""
        if owner is not None:  # every download and poll: built once
            return (await self.session.execute(_OWNED_EXPORT, {"id": export_id, "owner": owner})).first()
        return (await self.session.execute(select(*COLUMNS).where(Export.id == export_id))).first()

    async def count_hit(self, *, export_id: uuid.UUID) -> Any | None:
        """Counts one request answered by the stored export; returns the export as counted."""
        stmt = (
            update(Export)
            .where(Export.id == export_id)
            .values(cache_hits=Export.cache_hits + 1)
            .returning(*COLUMNS)
        )
        return (await self.session.execute(stmt)).first()

    async def heartbeat(self, *, export_id: uuid.UUID) -> None:
        """Marks a rendering as still running."""
        await self.session.execute(
            update(Export)
            .where(Export.id == export_id, Export.status == "processing")
            .values(heartbeat_at=func.now())
        )

    async def complete(
        self,
        *,
        export_id: uuid.UUID,
        blob_key: str,
        size: int,
        sha256: str,
        receipt: dict[str, Any],
        lease_owner: str | None = None,
        content_encoding: str | None = None,
        stored_bytes: int | None = None,
        ttl_seconds: int | None = None,
        delivered_to: str | None = None,
        source_revision: str | None = None,
    ) -> Any | None:
        """Points a processing export at its stored bytes; None when it is no longer processing (or,
        for a job, no longer leased by `lease_owner`). `size` and `sha256` are the content's; the
        store may hold it encoded (`content_encoding`, `stored_bytes`). It expires `ttl_seconds`
        from now (never when None). A scheduled run also records where it was delivered and the
        source revision it was read at (it is queued before anyone reads it)."""
        scheduled = {"source_revision": source_revision} if source_revision is not None else {}
        stmt = (
            _processing(export_id, lease_owner)
            .values(
                **scheduled,
                delivered_to=delivered_to,
                status="completed",
                blob_key=blob_key,
                size_bytes=size,
                sha256=sha256,
                receipt=receipt,
                rows_rendered=receipt["row_count"],
                error=None,  # a retried job's earlier failure is history once it succeeds
                content_encoding=content_encoding,
                stored_bytes=size if stored_bytes is None else stored_bytes,
                expires_at=_expiry(ttl_seconds),
                updated_at=func.now(),
                **JOB_ENDED,
            )
            .returning(*COLUMNS)
        )
        done = (await self.session.execute(stmt)).first()
        if done is not None:
            await self.notify_ended(export_id=export_id)
        return done

    async def fail(
        self,
        *,
        export_id: uuid.UUID,
        error: str,
        stale_before: datetime | None = None,
        lease_owner: str | None = None,
    ) -> bool:
        """Marks a processing export failed (only if its heartbeat is older than `stale_before`, when
        given; for a job, only while `lease_owner` holds it)."""
        stmt = _processing(export_id, lease_owner)
        if stale_before is not None:
            stmt = stmt.where(Export.heartbeat_at < stale_before)
        result = await self.session.execute(
            stmt.values(status="failed", error=error[:4000], updated_at=func.now(), **JOB_ENDED).returning(
                Export.id
            )
        )
        failed = result.first() is not None
        if failed:
            await self.notify_ended(export_id=export_id)
        return failed

    async def notify_ended(self, *, export_id: uuid.UUID) -> None:
        """Tells every exports process, once the transaction commits, that an export has ended."""
        await self.session.execute(NOTIFY, {"channel": ENDED_CHANNEL, "payload": str(export_id)})

    async def list(
        self,
        *,
        owner: str,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        source: str,
        status: str,
    ) -> Sequence[Any]:
        """A page of the owner's exports, newest first (keyset on created_at, id)."""
        stmt = select(*COLUMNS).where(Export.owner == owner)
        if source:
            stmt = stmt.where(Export.source == source)
        if status:
            stmt = stmt.where(Export.status == status)
        if after is not None:
            stmt = stmt.where(tuple_(Export.created_at, Export.id) < tuple_(*after))
        stmt = stmt.order_by(Export.created_at.desc(), Export.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def delete(self, *, export_id: uuid.UUID, owner: str) -> Any | None:
        """Deletes an export (its links go with it); returns the deleted row."""
        stmt = delete(Export).where(Export.id == export_id, Export.owner == owner).returning(*COLUMNS)
        return (await self.session.execute(stmt)).first()
