"""Use cases of table artifacts: stored in a chat, read back whole, listed without their rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.common.errors import NotFound
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.files import rules
from services.files.repository import FilesRepository


async def create_artifact(
    repo: FilesRepository,
    *,
    owner: str,
    chat_id: str,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[rules.Cell]],
) -> Any:
    """Stores a table artifact in the chat (created when new); returns it without rows."""
    chat = rules.check_chat_id(chat_id)
    rules.check_artifact(title=title, columns=columns, rows=rows)
    revision = await repo.bump_chat(owner=owner, chat_id=chat)
    return await repo.insert_artifact(
        owner=owner, chat_id=chat, title=title, columns=columns, rows=rows, revision=revision
    )


def _artifact_key(artifact_id: str) -> uuid.UUID | None:
    """The id as a UUID; a malformed id names nothing."""
    try:
        return uuid.UUID(artifact_id)
    except ValueError:
        return None


def _not_found(artifact_id: str) -> NotFound:
    return NotFound(f"no artifact with id {artifact_id[:100]!r}", reason="ARTIFACT_NOT_FOUND")


async def get_artifact(repo: FilesRepository, *, owner: str, artifact_id: str) -> Any:
    """One of the owner's artifacts with its rows; a malformed id names nothing, so NotFound."""
    key = _artifact_key(artifact_id)
    row = await repo.get_artifact(owner=owner, artifact_id=key) if key is not None else None
    if row is None:
        raise _not_found(artifact_id)
    return row


async def delete_artifact(repo: FilesRepository, *, owner: str, artifact_id: str) -> int:
    """Deletes one of the owner's artifacts; returns its chat's new revision."""
    key = _artifact_key(artifact_id)
    chat_id = await repo.artifact_chat(owner=owner, artifact_id=key) if key is not None else None
    if key is None or chat_id is None:
        raise _not_found(artifact_id)
    revision = await repo.bump_chat(owner=owner, chat_id=chat_id)  # the lock every chat write takes first
    if not await repo.delete_artifact(owner=owner, artifact_id=key):
        raise _not_found(artifact_id)  # deleted meanwhile; the transaction rolls back
    return revision


async def list_artifacts(repo: FilesRepository, *, owner: str, chat_id: str, size: int, token: str) -> Page:
    """A chat's artifacts without rows, newest first."""
    limit = page_size(size)
    rows = await repo.list_artifacts(
        owner=owner, chat_id=rules.check_chat_id(chat_id), limit=limit + 1, after=decode_cursor(token)
    )
    return paged(rows, limit)
