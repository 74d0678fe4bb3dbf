"""The tables of schema `exports`: export rows, blob chunks (the postgres blob store), share links
and the render log the rate limit counts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.database import schema_metadata

SCHEMA = "exports"
STATES = ("queued", "processing", "completed", "failed")


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Export(Base):
    """One rendering of (owner, source, format, options) at one source revision."""

    __tablename__ = "exports"
    __table_args__ = (
        # The render-once guarantee: at most one live (processing or completed) rendering per key.
        # Failed ones drop out of it, so a later request may try again.
        Index(
            "uq_exports_render_key",
            "owner",
            "source",
            "format",
            "options_hash",
            "source_revision",
            unique=True,
            postgresql_where=text("status <> 'failed'"),
        ),
        Index("ix_exports_owner_created_at_id", "owner", "created_at", "id"),
        Index("ix_exports_owner_source_created_at", "owner", "source", "created_at"),
        # The job queue: the oldest queued export first, and processing ones whose lease ran out.
        Index("ix_exports_queue", "created_at", postgresql_where=text("status = 'queued'")),
        Index("ix_exports_leases", "lease_expires_at", postgresql_where=text("status = 'processing'")),
        Index("ix_exports_expires_at", "expires_at"),
        Index("ix_exports_blob_key", "blob_key"),
        CheckConstraint("status IN ('queued', 'processing', 'completed', 'failed')", name="status_known"),
        CheckConstraint(
            "status <> 'completed' OR (blob_key IS NOT NULL AND sha256 IS NOT NULL AND size_bytes IS NOT NULL)",
            name="completed_has_bytes",
        ),
        CheckConstraint("status = 'completed' OR blob_key IS NULL", name="only_completed_has_bytes"),
        Index(
            "uq_exports_schedule_window",
            "schedule_id",
            "window_start",
            unique=True,
            postgresql_where=text("schedule_id IS NOT NULL AND status <> 'failed'"),
        ),
        Index(
            "ix_exports_schedule_runs",
            "schedule_id",
            "window_start",
            "created_at",
            postgresql_where=text("schedule_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    owner: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(512))
    format: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)
    options_hash: Mapped[str] = mapped_column(String(64))
    source_revision: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    blob_key: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Touched while a rendering runs; a processing row whose heartbeat stops was abandoned.
    heartbeat_at: Mapped[datetime] = _now()
    download_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cache_hits: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Jobs: how often a worker took it, who holds it until when, and progress. The worker reads
    # the sources for the owner with service tokens it mints (no bearer token is stored), with
    # the admin role only when the owner asked as an admin.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner_is_admin: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The W3C traceparent of the request that queued the job (tracing on): the worker's span links to it.
    traceparent: Mapped[str | None] = mapped_column(String(64))
    rows_rendered: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Lifecycle: when the cleanup removes it; how the stored bytes are encoded (gzip for text
    # formats) and how many there are (size_bytes stays the size of the content itself).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content_encoding: Mapped[str | None] = mapped_column(String(16))
    stored_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # A scheduled run (schedules/): its schedule, its window [start, end), and where its bytes were
    # delivered besides this store (an S3 bucket of the owner's). At most one live run per window
    # (uq_exports_schedule_window); no foreign key, so a run outlives its deleted schedule.
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_to: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class BlobChunk(Base):
    """The postgres blob store: a blob is its chunks in order; `offset` serves byte ranges."""

    __tablename__ = "blob_chunks"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    # Stored EXTERNAL (see the migration): rendered files are mostly compressed already, and
    # compressing the rest on every write costs more than it saves.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # Per chunk, at insert time (not the transaction's start): a blob's age is its last chunk's.
    stored_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()")
    )


class ShareLink(Base):
    """A link that downloads an export without a bearer token; only the token's hash is kept."""

    __tablename__ = "share_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    export_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exports.exports.id", ondelete="CASCADE"), index=True
    )
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    download_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()


class RenderEvent(Base):
    """One started rendering, kept for the rate limit (deleting an export does not refund it)."""

    __tablename__ = "render_events"
    __table_args__ = (Index("ix_render_events_owner_created_at", "owner", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = _now()
