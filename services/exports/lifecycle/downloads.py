"""Serving export bytes: to their owner, and through share links (created, listed, revoked).

Plain Python over ports (units of work, blob store, the exports use cases): no grpc. One
transaction finds the export before the first byte; once the bytes have gone out the download is
counted on the export, and on the link it went through, and logged. Bytes stored
gzip-compressed go out as stored to clients that accept gzip and are decoded on the way for the
others. Stored bytes are read on the event loop where the store allows it (a `LoopReader`); bytes
to decode, and the other stores' bytes, in a thread (in_own_thread). With a store that presigns
URLs (S3), a share link may answer with a fresh short-lived URL instead of the bytes, minted on
each use: the link works for its own lifetime whatever the presigned URLs' expiry, and a revoked
link mints nothing more.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import re
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from services.common.errors import FailedPrecondition, NotFound
from services.common.ids import parse_id
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.common.stream_threads import close_iterator, in_own_thread
from services.exports import rules, telemetry
from services.exports.blobstores import BlobStore
from services.exports.lifecycle.repository import LifecycleUnitOfWork
from services.exports.ports import ExportReader
from services.exports.rendering import compression

_LINK_ID = re.compile(r"[0-9a-f]{64}")
_NO_SUCH_LINK = "no such link, or it has expired"  # one message for unknown, expired and revoked


def hash_token(token: str) -> str:
    """A link's id: what is stored instead of its token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Content:
    """The answer to one download request: bytes, a redirect, or "your copy is current"."""

    row: Any
    chunks: AsyncGenerator[bytes, None] | None = None  # opened by its first read; its reader closes it
    encoding: str = ""  # the content coding of the chunks (or of what redirect_url serves)
    size: int = 0  # how many bytes the chunks hold
    not_modified: bool = False
    redirect_url: str = ""
    # Counts the download. Whoever sends the chunks awaits it once the last one is read and all
    # before it went out, so a client that leaves early is no download and one that read the last
    # byte is counted by then; a redirect is counted as it is handed out.
    delivered: Callable[[], Awaitable[None]] | None = None


# Content up to this size is read whole in one pooled thread (when it is read in a thread at all):
# a small download is dominated by fixed costs, and a thread of its own plus a handoff per chunk is
# one of them.
WHOLE_CONTENT_BYTES = 64 * 1024


class LoopReader(Protocol):
    """Reads a blob as stored on the event loop (the postgres store's PostgresLoopReader)."""

    def chunks(self, key: str) -> AsyncGenerator[bytes, None]: ...


@runtime_checkable
class Presigner(Protocol):
    """A blob store that hands out URLs which need no credentials for a while (S3)."""

    @property
    def presign_expiry_seconds(self) -> int: ...

    def presigned_url(
        self,
        key: str,
        expires_in: int | None = None,
        *,
        filename: str | None = None,
        media_type: str | None = None,
        content_encoding: str | None = None,
    ) -> str: ...


class Downloads:
    """Download and share-link use cases, given their ports."""

    def __init__(
        self,
        *,
        unit_of_work: LifecycleUnitOfWork,
        blobs: BlobStore,
        exports: ExportReader,
        reads: LifecycleUnitOfWork | None = None,
        loop_reader: LoopReader | None = None,
    ) -> None:
        self._uow = unit_of_work
        # The lookups and the count a download makes are one statement each: autocommit, one round trip.
        self._reads = reads or unit_of_work
        self._blobs = blobs
        self._loop_reader = loop_reader
        self._exports = exports

    async def open_content(
        self,
        *,
        owner: str,
        export_id: str,
        if_none_match: Sequence[str] = (),
        accept_encoding: Sequence[str] = (),
    ) -> Content:
        """One of the owner's completed exports, to stream (lazily) in a coding the client accepts."""
        row = await self._exports.get_export(owner=owner, export_id=export_id)
        _require_completed(row, "has content")
        return await self._deliver(row, if_none_match, accept_encoding, link=None, redirect_seconds=None)

    async def open_shared(
        self,
        *,
        token: str,
        if_none_match: Sequence[str] = (),
        accept_encoding: Sequence[str] = (),
        allow_redirect: bool = False,
    ) -> Content:
        """The export behind a live link; an unknown, expired or revoked link is the same NotFound."""
        link = hash_token(token)
        async with self._reads() as repo:
            row = await repo.export_of_link(token_hash=link) if token else None
        if row is None:
            raise NotFound(_NO_SUCH_LINK)
        redirect_seconds = None
        if allow_redirect:  # never beyond the link's own end
            redirect_seconds = max(1, math.ceil((row.link_expires_at - datetime.now(UTC)).total_seconds()))
        return await self._deliver(
            row, if_none_match, accept_encoding, link=link, redirect_seconds=redirect_seconds
        )

    async def _deliver(
        self,
        row: Any,
        if_none_match: Sequence[str],
        accept_encoding: Sequence[str],
        *,
        link: str | None,
        redirect_seconds: int | None,
    ) -> Content:
        if row.sha256 in {tag.strip().removeprefix("W/").strip('"') for tag in if_none_match}:
            return Content(row, not_modified=True)
        stored = row.content_encoding or ""
        as_stored = not stored or stored in accept_encoding
        encoding, size = (stored, row.stored_bytes or row.size_bytes) if as_stored else ("", row.size_bytes)
        if redirect_seconds is not None and as_stored and isinstance(self._blobs, Presigner):
            url = await asyncio.to_thread(
                self._blobs.presigned_url,
                row.blob_key,
                min(self._blobs.presign_expiry_seconds, redirect_seconds),
                filename=row.filename,
                media_type=row.media_type,
                content_encoding=stored or None,
            )
            await self._count(row, link, encoding=encoding, size=size, redirected=True)
            return Content(row, encoding=encoding, size=size, redirect_url=url)
        chunks = self._chunks(row.blob_key, decode="" if as_stored else stored, size=size)
        count = functools.partial(self._count, row, link, encoding=encoding, size=size, redirected=False)
        return Content(row, chunks, encoding, size, delivered=count)

    def _chunks(self, key: str, *, decode: str, size: int) -> AsyncGenerator[bytes, None]:
        """The bytes to send: read on the loop when they go out as stored and the store allows it;
        otherwise in a thread (decoding is CPU work, and the other stores block), whole when small."""
        if self._loop_reader is not None and not decode:
            return self._loop_reader.chunks(key)
        chunks = _blob_chunks(self._blobs, key, decode=decode)
        if size <= WHOLE_CONTENT_BYTES:
            return _whole_in_a_pooled_thread(chunks)
        return in_own_thread(chunks, name="depot-download")

    async def _count(self, row: Any, link: str | None, *, encoding: str, size: int, redirected: bool) -> None:
        async with self._reads() as repo:
            await repo.count_download(export_id=row.id, token_hash=link)
        telemetry.downloaded(
            export_id=str(row.id),
            fmt=row.format,
            size=size,
            encoding=encoding,
            link=link[:16] if link else None,
            redirected=redirected,
        )

    # Share links ------------------------------------------------------------------------------

    async def create_share_link(self, *, owner: str, export_id: str, seconds: int) -> tuple[Any, str]:
        """A new link to a completed export; the token is returned once and stored hashed."""
        lifetime = rules.share_link_seconds(seconds)
        row = await self._exports.get_export(owner=owner, export_id=export_id)
        _require_completed(row, "can be shared")
        token = secrets.token_urlsafe(32)  # 256 random bits
        async with self._uow() as repo:
            link = await repo.insert_link(
                token_hash=hash_token(token), export_id=row.id, owner=owner, seconds=lifetime
            )
        return link, token

    async def list_share_links(self, *, owner: str, export_id: str, size: int, token: str) -> Page:
        """The links of one of the owner's exports, newest first."""
        limit = page_size(size)
        row = await self._exports.get_export(owner=owner, export_id=export_id)
        async with self._uow() as repo:
            links = await repo.list_links(
                export_id=row.id, owner=owner, limit=limit + 1, after=decode_cursor(token, str)
            )
        return paged(links, limit, lambda link: (link.created_at, link.token_hash))

    async def revoke_share_link(self, *, owner: str, export_id: str, link: str) -> Any:
        """Revokes a link of one of the owner's exports, named by its token or its id."""
        token_hash = link if _LINK_ID.fullmatch(link) else hash_token(link)
        async with self._uow() as repo:
            revoked = await repo.revoke_link(
                export_id=parse_id(export_id, "export"), owner=owner, token_hash=token_hash
            )
        if revoked is None:
            raise NotFound(f"export {export_id!r} has no such link")
        return revoked


async def _whole_in_a_pooled_thread(chunks: Iterator[bytes]) -> AsyncGenerator[bytes, None]:
    # The worker owns the stream from here: it reads and closes it even if the call is cancelled
    # meanwhile, and nothing else touches it (as in_own_thread promises).
    yield await asyncio.to_thread(_read_whole, chunks)


def _read_whole(chunks: Iterator[bytes]) -> bytes:
    try:
        return b"".join(chunks)
    finally:
        close_iterator(chunks)


def _blob_chunks(blobs: BlobStore, key: str, *, decode: str) -> Iterator[bytes]:
    """A blob's chunks (decoded from `decode` if set), opened when the first one is asked for: the
    thread that reads the stream opens and closes it too, and a download that never starts holds
    no file, connection or response."""
    chunks = blobs.open(key)
    try:
        yield from compression.decoded(chunks, decode)
    finally:
        close_iterator(chunks)  # `decoded` leaves the stream it reads open


def _require_completed(row: Any, what: str) -> None:
    if row.status != "completed":
        raise FailedPrecondition(
            f"export {row.id} is {row.status}; only a completed export {what}",
            reason=f"EXPORT_{row.status.upper()}",
        )
