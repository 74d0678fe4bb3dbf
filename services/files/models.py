"""The tables of schema `files`.

A file's bytes live in `file_chunks`, one row per fixed-size piece (the last one shorter), keyed by
a content id that changes whenever the content does. Replacing a file writes the new chunks under a
new content id and deletes the old ones in the same transaction, so a reader that started on the old
content either finishes it or finds it gone, never a mix of both.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.database import schema_metadata

SCHEMA = "files"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


# Revisions come from one sequence, so a value is never handed out twice: a chat deleted and
# written again gets a revision no cached export was ever keyed by.
REVISIONS = Sequence("revisions", metadata=Base.metadata)


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Chat(Base):
    """A chat of one user: exists from its first write until it is deleted; carries its revision."""

    __tablename__ = "chats"
    __table_args__ = (Index("ix_chats_owner_updated_at_chat_id", "owner", "updated_at", "chat_id"),)

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()


def _in_chat() -> ForeignKeyConstraint:
    """Files and artifacts belong to a chat row; deleting the chat deletes them."""
    return ForeignKeyConstraint(
        ["owner", "chat_id"], ["files.chats.owner", "files.chats.chat_id"], ondelete="CASCADE"
    )


class ChatFile(Base):
    __tablename__ = "chat_files"
    __table_args__ = (
        UniqueConstraint("owner", "chat_id", "filename"),
        Index("ix_chat_files_owner_chat_id_created_at_id", "owner", "chat_id", "created_at", "id"),
        _in_chat(),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    owner: Mapped[str] = mapped_column(String(255))
    chat_id: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str] = mapped_column(String(255))
    file_type: Mapped[str] = mapped_column(String(32))
    media_type: Mapped[str] = mapped_column(String(255))
    content_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    chunk_bytes: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB(none_as_null=True))
    revision: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()
    # Set by every write and, at most once an hour, by a download: what retention calls stale.
    last_accessed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )


class FileChunk(Base):
    """One piece of a file's content; seq counts from 0, every piece but the last is chunk_bytes long."""

    __tablename__ = "file_chunks"

    # Deferred: the chunks of new content are written before the file row points at them.
    content_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("files.chat_files.content_id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
        primary_key=True,
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Artifact(Base):
    """A table artifact: column names and rows (arrays of JSON scalars), immutable once stored."""

    __tablename__ = "artifacts"
    __table_args__ = (
        Index("ix_artifacts_owner_chat_id_created_at_id", "owner", "chat_id", "created_at", "id"),
        _in_chat(),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    owner: Mapped[str] = mapped_column(String(255))
    chat_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(255))
    columns: Mapped[list[str]] = mapped_column(JSONB)
    rows: Mapped[list[list[Any]]] = mapped_column(JSONB)
    row_count: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _created_at()


class Usage(Base):
    """The bytes of chat files one user stores: changed in the transaction of every write that
    changes them, under this row's lock, so racing uploads of one user are counted one at a time."""

    __tablename__ = "usage"
    __table_args__ = (CheckConstraint("used_bytes >= 0", name="used_bytes_not_negative"),)

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class QuotaOverride(Base):
    """An admin's quota for one user, instead of the deployment's DEPOT_FILE_QUOTA_BYTES (0: none)."""

    __tablename__ = "quota_overrides"
    __table_args__ = (CheckConstraint("quota_bytes >= 0", name="quota_bytes_not_negative"),)

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    quota_bytes: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = _created_at()
