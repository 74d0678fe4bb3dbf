"""PostgreSQL notifications between exports processes: a job was queued, an export has ended.

Each process keeps one connection that LISTENs. A queued job wakes the process's worker; an ended
export wakes whoever waits for it here (GetExport with `wait`). Notifications are a shortcut, not
the truth: they are lost while the connection is down, so every sleeper also wakes on a timeout
and looks at the table itself, and everyone is woken after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import psycopg

from services.common.database import libpq_url
from services.exports.repository import ENDED_CHANNEL, JOBS_CHANNEL

RECONNECT_FIRST, RECONNECT_MAX = 0.2, 5.0  # seconds between attempts while PostgreSQL is away

log = logging.getLogger("depot.exports")


class JobSignals:
    """The listening connection of one process, and the events it sets."""

    def __init__(self, url: str) -> None:
        self._url = libpq_url(url)
        self.queued = asyncio.Event()
        self._ended: dict[uuid.UUID, set[asyncio.Event]] = {}

    async def run(self) -> None:
        """Listens until cancelled, reconnecting whenever the connection is lost."""
        pause = RECONNECT_FIRST
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    await conn.execute(f"LISTEN {ENDED_CHANNEL}")
                    pause = RECONNECT_FIRST
                    self._wake_everyone()  # whatever happened while nobody listened
                    async for notice in conn.notifies():
                        self._dispatch(notice.channel, notice.payload)
            except psycopg.Error as exc:
                log.warning("job_signals_lost", extra={"error": type(exc).__name__, "retry_in": pause})
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_MAX)

    async def wait_ended(self, export_id: uuid.UUID, timeout: float) -> None:
        """Returns when the export is said to have ended, or after `timeout` seconds."""
        event = asyncio.Event()
        waiters = self._ended.setdefault(export_id, set())
        waiters.add(event)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await event.wait()
        finally:
            waiters.discard(event)
            if not waiters:
                self._ended.pop(export_id, None)

    def _dispatch(self, channel: str, payload: str) -> None:
        if channel == JOBS_CHANNEL:
            self.queued.set()
            return
        with contextlib.suppress(ValueError):
            for event in self._ended.get(uuid.UUID(payload), ()):
                event.set()

    def _wake_everyone(self) -> None:
        self.queued.set()
        for waiters in self._ended.values():
            for event in waiters:
                event.set()
