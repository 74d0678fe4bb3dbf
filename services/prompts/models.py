"""The tables of schema `prompts`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.database import schema_metadata

SCHEMA = "prompts"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("owner", "request_id"),
        Index("ix_prompts_owner_created_at_id", "owner", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    owner: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(255))
    agent_type: Mapped[str | None] = mapped_column(String(255))
    original_text: Mapped[str] = mapped_column(Text)
    # Bumped by every write to the prompt, its versions or its scores (the exports cache key).
    revision: Mapped[int] = mapped_column(BigInteger, server_default="1")
    # The highest version number handed out; appends increment it under the row lock.
    version_count: Mapped[int] = mapped_column(Integer, server_default="0")
    best_version_no: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 of the create request's body (rules.request_fingerprint): a request_id sent again
    # with another body is refused. NULL for prompts created before it was recorded.
    request_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Bytes of the original text and every version's text, source and explanation (rules.prompt_size),
    # kept under the per-prompt limit by the create and by each append under the row lock.
    size_bytes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("prompt_id", "version_no"),
        Index("ix_versions_source", "source"),
        CheckConstraint(
            "parent_version_no IS NULL OR parent_version_no < version_no", name="parent_is_earlier"
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prompts.prompts.id", ondelete="CASCADE"))
    version_no: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    parent_version_no: Mapped[int | None] = mapped_column(Integer)
    # Free-form settings the text is meant for (model, temperature, response format…), versioned with it.
    model_config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created_at()


SCORE_CRITERIA = ("clarity", "specificity", "actionability", "structure", "context_use")


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (
        ForeignKeyConstraint(
            ["prompt_id", "version_no"],
            ["prompts.versions.prompt_id", "prompts.versions.version_no"],
            ondelete="CASCADE",
        ),
        *(CheckConstraint(f"{c} >= 0 AND {c} <= 10", name=f"{c}_range") for c in SCORE_CRITERIA),
    )

    prompt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    clarity: Mapped[float] = mapped_column(Double)
    specificity: Mapped[float] = mapped_column(Double)
    actionability: Mapped[float] = mapped_column(Double)
    structure: Mapped[float] = mapped_column(Double)
    context_use: Mapped[float] = mapped_column(Double)
    total: Mapped[float] = mapped_column(
        Double, Computed("clarity + specificity + actionability + structure + context_use", persisted=True)
    )
    updated_at: Mapped[datetime] = _created_at()
    # True when the create that inserted the row counted it in agent_stats itself; the score-insert
    # trigger counts every other inserted score (migrations/prompts 0008).
    counted_by_create: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("owner", "request_id"),
        Index("ix_feedback_owner_created_at_id", "owner", "created_at", "id"),
        CheckConstraint("user_choice IN ('original', 'single', 'multi')", name="user_choice_known"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    owner: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str] = mapped_column(String(255))
    prompt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("prompts.prompts.id", ondelete="CASCADE"), index=True
    )
    user_choice: Mapped[str] = mapped_column(String(16))
    judge_winner: Mapped[str] = mapped_column(String(255))
    agent_winner: Mapped[str] = mapped_column(String(255))
    judge_correct: Mapped[bool]
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()


class SecurityScan(Base):
    __tablename__ = "security_scans"
    __table_args__ = (
        Index("ix_security_scans_owner_created_at_id", "owner", "created_at", "id"),
        CheckConstraint("risk_score >= 0 AND risk_score <= 1", name="risk_score_range"),
        CheckConstraint("label IN ('safe', 'suspicious', 'malicious')", name="label_known"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    owner: Mapped[str] = mapped_column(String(255))
    input_text: Mapped[str] = mapped_column(Text)
    risk_score: Mapped[float] = mapped_column(Double)
    label: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created_at()


class OwnerRevision(Base):
    """A per-user counter bumped by every write of that user: the revision of the user's datasets."""

    __tablename__ = "owner_revisions"

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class Label(Base):
    """A named pointer from a prompt to one of its versions (`production`, `staging`…)."""

    __tablename__ = "labels"
    __table_args__ = (
        ForeignKeyConstraint(
            ["prompt_id", "version_no"],
            ["prompts.versions.prompt_id", "prompts.versions.version_no"],
            name="fk_labels_prompt_id_versions",
            ondelete="CASCADE",
        ),
    )

    prompt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("prompts.prompts.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    version_no: Mapped[int] = mapped_column(Integer)
    protected: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # From the sequence prompts.label_revisions: never repeats, even for a label deleted and set again.
    revision: Mapped[int] = mapped_column(
        BigInteger, server_default=text("nextval('prompts.label_revisions')")
    )
    updated_at: Mapped[datetime] = _created_at()
    updated_by: Mapped[str] = mapped_column(String(255))


class LabelMove(Base):
    """One move of a label (to_version_no NULL: deleted, from_version_no NULL: created)."""

    __tablename__ = "label_moves"
    __table_args__ = (Index("ix_label_moves_prompt_id_label_id", "prompt_id", "label", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prompts.prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(63))
    from_version_no: Mapped[int | None] = mapped_column(Integer)
    to_version_no: Mapped[int | None] = mapped_column(Integer)
    moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    moved_by: Mapped[str] = mapped_column(String(255))
