"""The read side of an export's life: the renderings of one request over time, and per-format
statistics (downloads, cache hits, stored bytes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.common.pagination import Page, decode_cursor, page_size, paged
from services.exports.lifecycle.repository import LifecycleUnitOfWork
from services.exports.ports import Caller, ExportReader


@dataclass
class FormatStats:
    """What the exports of one format (or of all, format "") amount to."""

    format: str = ""
    exports: int = 0
    size_bytes: int = 0
    stored_bytes: int = 0
    cache_hits: int = 0
    downloads: int = 0
    link_downloads: int = 0
    last_downloaded_at: datetime | None = None

    @property
    def cache_hit_rate(self) -> float:
        """Of the requests for a rendering, the share a stored one answered (each export was one render)."""
        answered = self.cache_hits + self.exports
        return self.cache_hits / answered if answered else 0.0

    def add(self, other: FormatStats) -> None:
        for name in ("exports", "size_bytes", "stored_bytes", "cache_hits", "downloads", "link_downloads"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        times = [t for t in (self.last_downloaded_at, other.last_downloaded_at) if t is not None]
        self.last_downloaded_at = max(times, default=None)


@dataclass
class Stats:
    formats: list[FormatStats]
    all_users: bool
    total: FormatStats = field(default_factory=FormatStats)


class History:
    """History and statistics of exports, over the lifecycle repository."""

    def __init__(self, *, unit_of_work: LifecycleUnitOfWork, exports: ExportReader) -> None:
        self._uow = unit_of_work
        self._exports = exports

    async def history(self, *, owner: str, export_id: str, size: int, token: str) -> Page:
        """Renderings of the same source, format and options as one of the owner's exports, newest first."""
        limit = page_size(size)
        row = await self._exports.get_export(owner=owner, export_id=export_id)
        async with self._uow() as repo:
            rows = await repo.history(of=row, limit=limit + 1, after=decode_cursor(token))
        return paged(rows, limit)

    async def stats(self, *, caller: Caller) -> Stats:
        """Per-format figures of the caller's exports; every user's for an admin."""
        async with self._uow() as repo:
            rows = await repo.stats(owner=None if caller.is_admin else caller.user_id)
        stats = Stats([FormatStats(**row._asdict()) for row in rows], all_users=caller.is_admin)
        for entry in stats.formats:
            stats.total.add(entry)
        return stats
