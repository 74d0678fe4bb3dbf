"""SQL of the export lifecycle: share links, download counts, history, statistics, expiry and the
sweeper's question "does a row still point at these bytes?". Statements only: the caller's unit
of work commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    any_,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    or_,
    select,
    table,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from services.common.database import Query, Session
from services.exports.models import Export, ShareLink
from services.exports.repository import COLUMNS, UNEXPIRED, interval_of

LINK_COLUMNS = tuple(ShareLink.__table__.c)
# The import jobs' uploads (the imports room's table, migration 0008), named here rather than
# imported: the rooms stay independent, and the sweep needs only this column.
_IMPORTS = table("imports", column("blob_key", String), schema="exports")
# Rows whose bytes are still being written.
_IN_FLIGHT = or_(Export.status == "queued", Export.status == "processing")
_LIVE_LINK = and_(ShareLink.revoked_at.is_(None), ShareLink.expires_at > func.now())
_COMPLETED = Export.status == "completed"


# A download's count is committed without waiting for the WAL flush (synchronous_commit off for this
# one transaction, set by the statement itself: it runs in autocommit). The flush is most of the
# count's cost — 0.2 ms idle, 1-1.5 ms beside a download, paid between the last chunk read and its
# send — and what it guards is a counter: a crash of PostgreSQL itself within a fraction of a second
# (three wal_writer_delay at most) may forget the last downloads' counts, never an export or its bytes.
_NO_FLUSH_WAIT = select(func.set_config("synchronous_commit", "off", True).label("on")).cte("no_flush_wait")
_EXPORT_COUNTED = (
    update(Export)
    .where(Export.id == bindparam("export_id"), _NO_FLUSH_WAIT.c.on.is_not(None))
    .values(download_count=Export.download_count + 1, last_downloaded_at=func.now())
)
_COUNT_DOWNLOAD = Query(_EXPORT_COUNTED)
# The link's count rides along as a data-modifying CTE: PostgreSQL runs it whether or not it is read.
_COUNT_LINK_DOWNLOAD = Query(
    _EXPORT_COUNTED.add_cte(
        update(ShareLink)
        .where(ShareLink.token_hash == bindparam("token_hash"))
        .values(download_count=ShareLink.download_count + 1, last_downloaded_at=func.now())
        .cte("counted_link")
    )
)


def _total(expression: Any, where: Any = None) -> Any:
    """sum() (of the rows matching `where`) as a bigint, since PostgreSQL sums bigints into numeric;
    0 over no rows."""
    summed = func.sum(expression) if where is None else func.sum(expression).filter(where)
    return func.coalesce(cast(summed, BigInteger), 0)


class LifecycleRepository:
    """Statements of one unit of work, on one connection."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # Share links and downloads --------------------------------------------------------------

    async def insert_link(self, *, token_hash: str, export_id: uuid.UUID, owner: str, seconds: int) -> Any:
        """Stores a share link by the hash of its token."""
        stmt = (
            insert(ShareLink)
            .values(
                token_hash=token_hash,
                export_id=export_id,
                owner=owner,
                expires_at=func.now() + interval_of(seconds),
            )
            .returning(*LINK_COLUMNS)
        )
        return (await self.session.execute(stmt)).one()

    async def export_of_link(self, *, token_hash: str) -> Any | None:
        """The completed, unexpired export behind a live link (neither expired nor revoked), and the
        link's expiry."""
        stmt = (
            select(*COLUMNS, ShareLink.expires_at.label("link_expires_at"))
            .join(ShareLink, ShareLink.export_id == Export.id)
            .where(ShareLink.token_hash == token_hash, _LIVE_LINK, _COMPLETED, UNEXPIRED)
        )
        return (await self.session.execute(stmt)).first()

    async def count_download(self, *, export_id: uuid.UUID, token_hash: str | None = None) -> None:
        """Counts one download of an export (and of the link it went through) with its time, in one
        statement (so it is atomic on its own, and a download pays one round trip for it)."""
        if token_hash is None:
            await self.session.execute(_COUNT_DOWNLOAD, {"export_id": export_id})
        else:
            await self.session.execute(
                _COUNT_LINK_DOWNLOAD, {"export_id": export_id, "token_hash": token_hash}
            )

    async def list_links(
        self, *, export_id: uuid.UUID, owner: str, limit: int, after: tuple[datetime, str] | None
    ) -> Sequence[Any]:
        """A page of the links of one of the owner's exports, newest first (keyset on created_at, hash)."""
        stmt = select(*LINK_COLUMNS).where(ShareLink.export_id == export_id, ShareLink.owner == owner)
        if after is not None:
            stmt = stmt.where(tuple_(ShareLink.created_at, ShareLink.token_hash) < tuple_(*after))
        stmt = stmt.order_by(ShareLink.created_at.desc(), ShareLink.token_hash.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def revoke_link(self, *, export_id: uuid.UUID, owner: str, token_hash: str) -> Any | None:
        """Revokes one of the owner's links (a revoked one keeps its first revocation time)."""
        stmt = (
            update(ShareLink)
            .where(
                ShareLink.token_hash == token_hash,
                ShareLink.export_id == export_id,
                ShareLink.owner == owner,
            )
            .values(revoked_at=func.coalesce(ShareLink.revoked_at, func.now()))
            .returning(*LINK_COLUMNS)
        )
        return (await self.session.execute(stmt)).first()

    # History and statistics -----------------------------------------------------------------

    async def history(
        self, *, of: Any, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Any]:
        """Renderings of the same owner, source, format and options as export `of`, newest first."""
        stmt = select(*COLUMNS).where(
            Export.owner == of.owner,
            Export.source == of.source,
            Export.format == of.format,
            Export.options_hash == of.options_hash,
        )
        if after is not None:
            stmt = stmt.where(tuple_(Export.created_at, Export.id) < tuple_(*after))
        stmt = stmt.order_by(Export.created_at.desc(), Export.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def stats(self, *, owner: str | None) -> Sequence[Any]:
        """Per format: completed exports, content and stored bytes, cache hits, renders and downloads
        (those through links apart); every owner's when `owner` is None."""
        links = select(ShareLink.export_id, _total(ShareLink.download_count).label("downloads"))
        if owner is not None:
            links = links.where(ShareLink.owner == owner)
        per_export = links.group_by(ShareLink.export_id).subquery()
        stmt = (
            select(
                Export.format,
                func.count().filter(_COMPLETED).label("exports"),
                _total(Export.size_bytes, _COMPLETED).label("size_bytes"),
                _total(func.coalesce(Export.stored_bytes, Export.size_bytes), _COMPLETED).label(
                    "stored_bytes"
                ),
                _total(Export.cache_hits).label("cache_hits"),
                _total(Export.download_count).label("downloads"),
                _total(per_export.c.downloads).label("link_downloads"),
                func.max(Export.last_downloaded_at).label("last_downloaded_at"),
            )
            .outerjoin(per_export, per_export.c.export_id == Export.id)
            .group_by(Export.format)
            .order_by(Export.format)
        )
        if owner is not None:
            stmt = stmt.where(Export.owner == owner)
        return (await self.session.execute(stmt)).all()

    # Cleanup and sweeping -------------------------------------------------------------------

    async def delete_expired(self, *, limit: int) -> Sequence[Any]:
        """Deletes up to `limit` exports whose time is up (their links go with them); returns them.
        SKIP LOCKED: a row another transaction holds is left for the next pass."""
        due = (
            select(Export.id)
            .where(Export.expires_at <= func.now())
            .order_by(Export.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            delete(Export)
            .where(Export.id.in_(due.scalar_subquery()))
            .returning(Export.id, Export.owner, Export.format, Export.blob_key)
        )
        return (await self.session.execute(stmt)).all()

    async def referenced_keys(self, *, keys: Sequence[str]) -> set[str]:
        """Which of `keys` a row points at: an export's bytes or an import job's upload."""
        wanted = cast(bindparam("keys"), ARRAY(String))
        stmt = union_all(
            select(Export.blob_key).where(Export.blob_key == any_(wanted)),
            select(_IMPORTS.c.blob_key).where(_IMPORTS.c.blob_key == any_(wanted)),
        )
        return {row.blob_key for row in (await self.session.execute(stmt, {"keys": list(keys)})).all()}

    async def in_flight(self, *, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of `ids` name exports still queued or being rendered (their bytes may be on the way)."""
        stmt = select(Export.id).where(
            Export.id == any_(cast(bindparam("ids"), ARRAY(UUID(as_uuid=True)))), _IN_FLIGHT
        )
        return {row.id for row in (await self.session.execute(stmt, {"ids": list(ids)})).all()}


LifecycleUnitOfWork = Callable[[], AbstractAsyncContextManager[LifecycleRepository]]
