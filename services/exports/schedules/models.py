"""The schedules table of schema `exports` (its runs are rows of exports.exports)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, LargeBinary, String, false, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.exports.models import Base


class Schedule(Base):
    """A source rendered at every fire of a cron, whole or by window, delivered somewhere.

    The cursor `next_window_start` is where the next window not yet planned starts. While a window's
    run is under way (or failed and waits for its retry) it is the pending window; the next window
    is planned only once the pending one has completed, so windows never skip or overlap. `due_at`
    is when the planner next looks at the schedule."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_owner_created_at_id", "owner", "created_at", "id"),
        Index("ix_schedules_due_at", "due_at"),
        CheckConstraint("mode IN ('full', 'incremental')", name="mode_known"),
        CheckConstraint(
            "(pending_window_start IS NULL) = (pending_window_end IS NULL)", name="pending_window_whole"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    owner: Mapped[str] = mapped_column(String(255))
    owner_is_admin: Mapped[bool] = mapped_column(Boolean, server_default=false())
    source: Mapped[str] = mapped_column(String(512))
    format: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)
    every: Mapped[str] = mapped_column(String(255))  # as the user wrote it
    cron: Mapped[str] = mapped_column(String(255))  # what it means
    mode: Mapped[str] = mapped_column(String(16))
    destination: Mapped[dict[str, Any]] = mapped_column(JSONB)  # never a secret
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed (credentials.py)
    next_window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pending_window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pending_window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
