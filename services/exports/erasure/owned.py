"""The exports service's part of an erasure: its tables that hold a user's rows, and the bytes
those rows point at in whichever blob store (postgres, local or S3): rendered exports and uploaded
restore archives.

Each call deletes share links first (a link dies before its export), then a batch of the rows
that point at bytes, the bytes before the rows (every attempt's key of an export), so a crash in
between leaves rows the next attempt finds again, never bytes no row leads to; then the other
owner-keyed rows, and the event outbox last. tests/erasure/test_coverage.py fails when a table of
the schema with a user column is in none of the lists below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from psycopg import sql

from services.common.database import Database, Session
from services.common.erasure import DEFAULT_BATCH, Owned, count_rows, erase_batch
from services.exports.blobstores import BlobStore
from services.exports.rendering.work import blob_key

SCHEMA = "exports"
# Emptied by owner before the rows with bytes (links cascade from their export anyway).
FIRST = (Owned("share_links"),)
# Owner-keyed rows with a `blob_key`: (table, whether each attempt of it wrote a key of its own).
WITH_BYTES = {"exports": True, "imports": False}
# Emptied by owner after them, in this order.
THEN = (
    Owned("render_events"),
    # A webhook's deliveries (and their attempts, by cascade) before it, a batch at a time.
    Owned("webhook_deliveries", "webhook_id IN (SELECT id FROM exports.webhooks WHERE owner = %(owner)s)"),
    Owned("webhooks"),
    Owned("schedules"),
    # Last: the deletes above write events of their own into the outbox.
    Owned("event_inbox"),  # where events wait for the relay to place them
    Owned("events"),
)
OWNED = FIRST + THEN
# Tables whose rows go with a row of an owned table (ON DELETE CASCADE), and the table they follow.
CASCADED = {"webhook_attempts": "webhook_deliveries"}
# Tables with a user column that hold no user's data once an erasure is done: an erasure names its
# user only while it runs.
NAMES_NOBODY_WHEN_DONE = ("erasures",)
COUNTS = {
    "exports": "SELECT count(*) FROM exports.exports WHERE owner = %(owner)s",
    "share_links": "SELECT count(*) FROM exports.share_links WHERE owner = %(owner)s",
}


def keys_of(table: str, row: Any) -> list[str]:
    """Every key a row's bytes may be under: the one it points at and, for an export, each attempt's."""
    keys = {row.blob_key} if row.blob_key else set()
    if WITH_BYTES[table]:
        keys |= {blob_key(row.id, n) for n in range(1, max(row.attempts, 1) + 1)}
    return sorted(keys)


class ExportsPart:
    """Erases a user's rows of the exports schema and their bytes, a batch per call."""

    name = "exports"

    def __init__(self, *, database: Database, blobs: BlobStore, batch: int = DEFAULT_BATCH) -> None:
        self._db = database
        self._blobs = blobs
        self._batch = batch

    async def erase_batch(self, user_id: str) -> int:
        """Deletes a batch of the user's rows (and bytes); 0 when nothing was left."""
        async with self._db.begin() as session:
            deleted = await erase_batch(
                session, schema=SCHEMA, tables=FIRST, owner=user_id, batch=self._batch
            )
        for table in WITH_BYTES:
            deleted += await self._erase_with_bytes(table, user_id)
        async with self._db.begin() as session:
            deleted += await erase_batch(
                session, schema=SCHEMA, tables=THEN, owner=user_id, batch=self._batch
            )
        return deleted

    async def _erase_with_bytes(self, table: str, user_id: str) -> int:
        name = sql.Identifier(SCHEMA, table)
        async with self._db.connection() as session:
            rows = await _fetch(
                session,
                sql.SQL(
                    "SELECT id, blob_key, attempts FROM {} WHERE owner = %(owner)s ORDER BY id LIMIT %(batch)s"
                ).format(name),
                {"owner": user_id, "batch": self._batch},
            )
        if not rows:
            return 0
        keys = [key for row in rows for key in keys_of(table, row)]
        await asyncio.to_thread(self._delete_blobs, keys)  # a failure stops the step: it is retried
        async with self._db.begin() as session:
            statement = sql.SQL("DELETE FROM {} WHERE id = ANY(%(ids)s)").format(name)
            cursor = await session.connection.execute(statement, {"ids": [row.id for row in rows]})
            return max(cursor.rowcount, 0)

    def _delete_blobs(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._blobs.delete(key)

    async def count(self, user_id: str) -> dict[str, int]:
        """The user's exports and share links."""
        async with self._db.connection() as session:
            return await count_rows(session, counts=COUNTS, owner=user_id)


async def _fetch(session: Session, statement: sql.Composed, params: dict[str, Any]) -> list[Any]:
    cursor = await session.connection.execute(statement, params)
    return await cursor.fetchall()
