"""Use cases of the files domain. Plain Python over the repository: no grpc, no commits.

Every write locks the chat's row first (bumping its revision), then the file's: one lock order
for all writers, so concurrent writes to a chat queue up instead of deadlocking, and the chat's
revision changes exactly once per write transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.errors import Aborted, InvalidArgument, NotFound
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.files import editing, names, quota, rules
from services.files.content import Spool
from services.files.repository import FilesRepository

Repositories = Callable[[], AbstractAsyncContextManager[FilesRepository]]


@dataclass(frozen=True)
class Upload:
    """A validated upload header. description and metadata: None keeps the stored value."""

    chat_id: str
    filename: str
    file_type: str
    media_type: str
    description: str | None
    metadata: dict[str, Any] | None
    sets_description: bool
    sets_metadata: bool
    if_match: tuple[str, ...]
    if_none_match: tuple[str, ...]
    expected_size: int | None


@dataclass(frozen=True)
class Download:
    """A file and the bytes of it to serve; byte_range None means the requested range is unsatisfiable."""

    file: Any
    byte_range: rules.ByteRange | None


def _not_found(chat_id: str, filename: str) -> NotFound:
    return NotFound(f"no file {filename!r} in chat {chat_id!r}", reason="FILE_NOT_FOUND")


def check_upload(
    *,
    chat_id: str,
    filename: str,
    file_type: str,
    media_type: str,
    description: str | None,
    metadata_json: str | None,
    if_match: Sequence[str],
    if_none_match: Sequence[str],
    expected_size: int | None,
    limit: int,
) -> Upload:
    """Validates an upload header before any byte is accepted; an announced size over the limit fails here."""
    name = rules.check_filename(filename)
    media = rules.media_type_for(name, media_type)
    if expected_size is not None and expected_size < 0:
        raise InvalidArgument("expected_size_bytes must not be negative", field="expected_size_bytes")
    if expected_size is not None and expected_size > limit:
        raise rules.too_large(limit, expected_size)
    return Upload(
        chat_id=rules.check_chat_id(chat_id),
        filename=name,
        file_type=rules.file_type_for(name, media, file_type),
        media_type=media,
        description=rules.check_description(description) if description is not None else None,
        metadata=rules.parse_metadata(metadata_json) if metadata_json is not None else None,
        sets_description=description is not None,
        sets_metadata=metadata_json is not None,
        if_match=tuple(if_match),
        if_none_match=tuple(if_none_match),
        expected_size=expected_size,
    )


async def receive(
    spool: Spool, chunks: AsyncIterator[bytes], *, limit: int, expected_size: int | None
) -> None:
    """Takes the content into the spool; more than `limit` bytes fails as soon as it is seen."""
    async for chunk in chunks:
        if spool.size + len(chunk) > limit:
            raise rules.too_large(limit)
        spool.write(chunk)
    if expected_size is not None and spool.size != expected_size:
        raise InvalidArgument(
            f"the upload ended after {spool.size} of the {expected_size} bytes announced",
            reason="UPLOAD_TRUNCATED",
        )


async def put_file(
    repo: FilesRepository, *, owner: str, upload: Upload, content: Spool, default_quota: int = 0
) -> tuple[Any, bool]:
    """Stores the content under the name, creating or replacing the file; returns (file, created).

    The bytes count against the owner's quota (their override, else default_quota) at commit.
    """
    if upload.if_match or upload.if_none_match:  # fail before writing anything; checked again under lock
        seen = await repo.get_file(owner=owner, chat_id=upload.chat_id, filename=upload.filename)
        rules.check_preconditions(
            seen.sha256 if seen else None, if_match=upload.if_match, if_none_match=upload.if_none_match
        )
    content_id = uuid.uuid4()
    # The pieces go in before any lock is taken: the locks below are then held for milliseconds.
    await repo.write_content(
        content_id=content_id, size=content.size, source=content.reader(), piece_bytes=rules.CHUNK_BYTES
    )
    revision = await repo.bump_chat(owner=owner, chat_id=upload.chat_id)
    current = await repo.get_file(
        owner=owner, chat_id=upload.chat_id, filename=upload.filename, for_update=True
    )
    rules.check_preconditions(
        current.sha256 if current else None, if_match=upload.if_match, if_none_match=upload.if_none_match
    )
    replaced = current.size_bytes if current else 0
    await quota.charge(repo, owner=owner, delta=content.size - replaced, default_quota=default_quota)
    values: dict[str, Any] = {
        "owner": owner,
        "chat_id": upload.chat_id,
        "filename": upload.filename,
        "file_type": upload.file_type,
        "media_type": upload.media_type,
        "content_id": content_id,
        "chunk_bytes": rules.CHUNK_BYTES,
        "size_bytes": content.size,
        "sha256": content.sha256,
        "description": upload.description,
        "metadata": upload.metadata,
        "revision": revision,
    }
    keep = [
        *([] if upload.sets_description else ["description"]),
        *([] if upload.sets_metadata else ["metadata"]),
    ]
    row = await repo.upsert_file(values=values, keep_on_replace=keep)
    if current is not None:
        await repo.delete_content(content_id=current.content_id)
    return row, bool(row.inserted)


async def get_file(repo: FilesRepository, *, owner: str, chat_id: str, filename: str) -> Any:
    """One of the owner's files (metadata)."""
    chat, name = rules.check_chat_id(chat_id), rules.check_filename(filename)
    row = await repo.get_file(owner=owner, chat_id=chat, filename=name)
    if row is None:
        raise _not_found(chat_id, name)
    return row


async def list_files(repo: FilesRepository, *, owner: str, chat_id: str, size: int, token: str) -> Page:
    """A chat's files, newest first; a chat the owner has nothing in lists nothing."""
    limit = page_size(size)
    rows = await repo.list_files(
        owner=owner, chat_id=rules.check_chat_id(chat_id), limit=limit + 1, after=decode_cursor(token)
    )
    return paged(rows, limit)


async def _locked_file(
    repo: FilesRepository,
    *,
    owner: str,
    chat_id: str,
    filename: str,
    if_match: Sequence[str],
    if_none_match: Sequence[str],
) -> tuple[Any, int]:
    """Locks the chat (new revision) and the file, and checks the preconditions; returns (file, revision)."""
    revision = await repo.bump_chat(owner=owner, chat_id=chat_id)
    current = await repo.get_file(owner=owner, chat_id=chat_id, filename=filename, for_update=True)
    if current is None:
        raise _not_found(chat_id, filename)
    rules.check_preconditions(current.sha256, if_match=if_match, if_none_match=if_none_match)
    return current, revision


async def update_file(
    repo: FilesRepository,
    *,
    owner: str,
    chat_id: str,
    filename: str,
    description: str | None,
    metadata_json: str | None,
    if_match: Sequence[str],
    if_none_match: Sequence[str],
) -> Any:
    """Sets the description and/or metadata (None leaves one as it is)."""
    chat, name = rules.check_chat_id(chat_id), rules.check_filename(filename)
    values: dict[str, Any] = {}
    if description is not None:
        values["description"] = rules.check_description(description)
    if metadata_json is not None:
        values["metadata"] = rules.parse_metadata(metadata_json)
    if not values:
        raise InvalidArgument("give a description, metadata or both", field="description")
    current, revision = await _locked_file(
        repo, owner=owner, chat_id=chat, filename=name, if_match=if_match, if_none_match=if_none_match
    )
    return await repo.update_file(file_id=current.id, values={**values, "revision": revision})


async def delete_file(
    repo: FilesRepository,
    *,
    owner: str,
    chat_id: str,
    filename: str,
    if_match: Sequence[str],
    if_none_match: Sequence[str],
) -> int:
    """Deletes a file with its content; returns the chat's new revision."""
    chat, name = rules.check_chat_id(chat_id), rules.check_filename(filename)
    current, revision = await _locked_file(
        repo, owner=owner, chat_id=chat, filename=name, if_match=if_match, if_none_match=if_none_match
    )
    await repo.delete_file(file_id=current.id)
    await quota.charge(repo, owner=owner, delta=-current.size_bytes, default_quota=0)
    return revision


async def replace_in_file(
    repo: FilesRepository,
    *,
    owner: str,
    chat_id: str,
    filename: str,
    old_text: str,
    new_text: str,
    count: int | None,
    if_match: Sequence[str],
    if_none_match: Sequence[str],
    limit: int,
    default_quota: int = 0,
) -> tuple[Any, int]:
    """Edits a UTF-8 text file in place; returns the file (new sha256) and how many occurrences changed.

    The result's size is known from the match count before anything is built (over the limit:
    FILE_TOO_LARGE at once); the edit runs in a thread, a window at a time, into a spool that the
    new content is stored from, so the service holds the original and one window, never two copies.
    """
    chat, name = rules.check_chat_id(chat_id), rules.check_filename(filename)
    rules.check_replacement(old_text, count)
    current, revision = await _locked_file(
        repo, owner=owner, chat_id=chat, filename=name, if_match=if_match, if_none_match=if_none_match
    )
    content = bytearray(current.size_bytes)
    position = 0
    async for piece in file_content(repo, file=current):
        content[position : position + len(piece)] = piece
        position += len(piece)
    with Spool() as result:
        plan = await asyncio.to_thread(
            _edit, content, result, old=old_text.encode(), new=new_text.encode(), count=count, limit=limit
        )
        del content  # the spool holds the result; the original is no longer needed
        content_id = uuid.uuid4()
        await repo.write_content(
            content_id=content_id, size=result.size, source=result.reader(), piece_bytes=rules.CHUNK_BYTES
        )
        values = {
            "content_id": content_id,
            "chunk_bytes": rules.CHUNK_BYTES,
            "size_bytes": result.size,
            "sha256": result.sha256,
            "revision": revision,
        }
    # A replace that would cross the quota is refused here: the transaction, new pieces and all, rolls back.
    await quota.charge(
        repo, owner=owner, delta=values["size_bytes"] - current.size_bytes, default_quota=default_quota
    )
    row = await repo.update_file(file_id=current.id, values=values)
    await repo.delete_content(content_id=current.content_id)
    return row, plan.replacements


def _edit(
    content: bytearray, result: Spool, *, old: bytes, new: bytes, count: int | None, limit: int
) -> editing.Plan:
    """Plans the edit (refusing it before it is built) and writes the result into the spool; runs in a thread."""
    plan = editing.plan(content, old=old, new=new, count=count, limit=limit)
    for piece in editing.edited(content, old=old, new=new, replacements=plan.replacements):
        result.write(piece)
    return plan


async def open_download(
    repo: FilesRepository,
    *,
    owner: str,
    chat_id: str,
    filename: str,
    start: int | None,
    end: int | None,
    suffix: int | None,
    if_range: str | None = None,
) -> Download:
    """The file and the byte range of it to serve (the whole file when `if_range` names other content)."""
    row = await get_file(repo, owner=owner, chat_id=chat_id, filename=filename)
    await repo.touch_file(file_id=row.id)
    byte_range = rules.resolve_range(
        row.size_bytes, start=start, end=end, suffix=suffix, if_range=if_range, sha256=row.sha256
    )
    return Download(row, byte_range)


def _pieces(file: Any, offset: int, length: int) -> list[tuple[int, int, int, bool]]:
    """(seq, start, length, whole piece) for the stored pieces covering the range."""
    plan = []
    for seq, start, take in rules.chunk_plan(offset, length, file.chunk_bytes):
        piece_length = min(file.chunk_bytes, file.size_bytes - seq * file.chunk_bytes)
        plan.append((seq, start, take, start == 0 and take == piece_length))
    return plan


async def read_content(
    repositories: Repositories, *, file: Any, offset: int, length: int
) -> AsyncIterator[bytes]:
    """The bytes of a range, read ahead by a task that keeps its connection only while the reader keeps up.

    Pieces go through a queue of READ_AHEAD_PIECES. While there is room the task reads on one
    connection; when the queue is full (a slow client) it gives the connection back before it
    waits, so a slow download never holds a connection, and a fast one pays no checkout per piece.
    The content id changes with every new content, so a piece is either of this content or gone.
    """
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(READ_AHEAD_PIECES)
    reader = asyncio.ensure_future(_read_ahead(repositories, file, _pieces(file, offset, length), queue))
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        reader.cancel()


READ_AHEAD_PIECES = 1
# How long the read-ahead keeps its connection while the queue is full: a client that catches up
# within this keeps the connection's pieces flowing; a slower one gets it given back.
HOLD_WHILE_FULL_SECONDS = 0.05


async def _read_ahead(
    repositories: Repositories,
    file: Any,
    plan: list[tuple[int, int, int, bool]],
    queue: asyncio.Queue[bytes | BaseException | None],
) -> None:
    try:
        index, waiting = 0, None
        while index < len(plan):
            async with repositories() as repo:
                while index < len(plan):
                    seq, start, take, whole = plan[index]
                    data = await repo.read_piece(
                        content_id=file.content_id, seq=seq, start=start, length=take, whole=whole
                    )
                    if data is None:
                        raise Aborted(
                            f"file {file.filename!r} changed while it was read; read it again",
                            reason="FILE_CHANGED",
                        )
                    index += 1
                    try:
                        async with asyncio.timeout(HOLD_WHILE_FULL_SECONDS):
                            await queue.put(data)
                    except TimeoutError:
                        waiting = data
                        break  # a slow reader: give the connection back, then wait
            if waiting is not None:
                await queue.put(waiting)
                waiting = None
        await queue.put(None)
    except Exception as exc:  # handed to the consumer, which raises it in the RPC
        await queue.put(exc)


async def file_content(repo: FilesRepository, *, file: Any) -> AsyncIterator[bytes]:
    """The whole content of a file within the repository's transaction."""
    for seq, start, take, whole in _pieces(file, 0, file.size_bytes):
        data = await repo.read_piece(
            content_id=file.content_id, seq=seq, start=start, length=take, whole=whole
        )
        if data is None:
            raise Aborted(f"file {file.filename!r} has lost content piece {seq}", reason="FILE_CHANGED")
        yield data


async def delete_chat(repo: FilesRepository, *, owner: str, chat_id: str) -> tuple[int, int]:
    """Deletes a chat with its files and artifacts; returns how many of each."""
    chat = rules.check_chat_id(chat_id)
    if not await repo.lock_chat(owner=owner, chat_id=chat):
        raise NotFound(f"no chat {chat_id!r}", reason="CHAT_NOT_FOUND")
    files, artifacts, freed = await repo.delete_chat(owner=owner, chat_id=chat)
    await quota.charge(repo, owner=owner, delta=-freed, default_quota=0)
    return files, artifacts


async def list_chats(repo: FilesRepository, *, owner: str, size: int, token: str) -> Page:
    """The owner's chats, most recently written first."""
    limit = page_size(size)
    rows = await repo.list_chats(owner=owner, limit=limit + 1, after=decode_cursor(token, str))
    return paged(rows, limit, lambda row: (row.updated_at, row.chat_id))


async def chat_revision(repo: FilesRepository, *, owner: str, chat_id: str) -> Any:
    """The chat's revision with its file and artifact counts."""
    row = await repo.chat_revision(owner=owner, chat_id=rules.check_chat_id(chat_id))
    if row is None:
        raise NotFound(f"no chat {chat_id!r}", reason="CHAT_NOT_FOUND")
    return row


async def chat_snapshot(
    repo: FilesRepository, *, owner: str, chat_id: str
) -> tuple[Any, datetime, Sequence[tuple[Any, str]]]:
    """Call first in a repeatable-read transaction: (revision row, snapshot time, (file, archive name) by name).

    The archive name is the one an archive of the chat gives the file (names.archive_names): a name
    stored before today's filename rules gets a safe stand-in there.
    """
    snapshot = await repo.snapshot_time()
    revision = await chat_revision(repo, owner=owner, chat_id=chat_id)
    files = await repo.files_by_name(owner=owner, chat_id=chat_id)
    entries = zip(files, names.archive_names([f.filename for f in files]), strict=True)
    return revision, snapshot, list(entries)
