"""Use cases of table artifacts: stored in a chat, read back whole, listed without their rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.common.errors import NotFound
from services.common.pagination import decode_cursor, page_size
from services.files import rules
from services.files.repository import FilesRepository
from services.files.service import Page, paged


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


async def get_artifact(repo: FilesRepository, *, owner: str, artifact_id: str) -> Any:
    """One of the owner's artifacts with its rows; a malformed id names nothing, so NotFound."""
    try:
        key = uuid.UUID(artifact_id)
    except ValueError:
        key = None
    row = await repo.get_artifact(owner=owner, artifact_id=key) if key is not None else None
    if row is None:
        raise NotFound(f"no artifact with id {artifact_id!r}", reason="ARTIFACT_NOT_FOUND")
    return row


async def list_artifacts(repo: FilesRepository, *, owner: str, chat_id: str, size: int, token: str) -> Page:
    """A chat's artifacts without rows, newest first."""
    limit = page_size(size)
    rows = await repo.list_artifacts(
        owner=owner, chat_id=rules.check_chat_id(chat_id), limit=limit + 1, after=decode_cursor(token)
    )
    return paged(rows, limit)
