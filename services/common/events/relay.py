"""The relay of one service process: it places committed events in order and wakes the watchers.

- Sequencing: every `poll_seconds` (50 ms by default) the relay calls `<schema>.place_events`
  (one round trip; a glance at the empty inbox when there is nothing to do), which moves the
  committed inbox rows to the stream in insert order, numbered after the head, one batch per
  transaction under the row lock of `event_sequencer`, so replicas take turns and positions only
  grow. A batch commits all of its positions at once, after every earlier batch:
  what a reader sees of the positions is always a prefix, so a reader past position P can never
  miss a row placed later. Writers do not NOTIFY: measured on a create, a notification from every
  writing transaction (and the relay waking for each) doubled the CPU a create costs, while the
  poll costs the write path nothing and bounds the added latency by its interval.
- Waking watchers: the batch's transaction notifies `<schema>_events_positioned` (once per batch);
  each process LISTENs on one connection and wakes its watchers, which also poll now and then
  (WATCH_POLL_SECONDS) in case a notification was lost; everyone is woken after a reconnect.
- Retention: events older than `retention_days` are deleted by a periodic pass, one replica at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import psycopg

from services.common.background import Periodic, delete_in_batches, one_replica_at_a_time
from services.common.database import Database, Session
from services.common.events.stream import EventStream
from services.common.settings import Settings
from services.common.trace_context import linked_span, untraced

log = logging.getLogger("depot.events")

PLACE_BATCH = 1000
# How often an idle watcher looks at the table when no wake-up came (a lost notification).
WATCH_POLL_SECONDS = 1.0
SWEEP_BATCH = 1000
RECONNECT_FIRST, RECONNECT_MAX = 0.2, 5.0


class Wakeup:
    """A broadcast that cannot be missed: take `current()` before looking, then wait on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


class EventRelay:
    """Sequencer, listener and retention of one stream in one process; `start()`, then `stop()`."""

    def __init__(
        self,
        database: Database,
        stream: EventStream,
        *,
        poll_seconds: float = 0.05,
        retention_days: int = 30,
        retention_interval_seconds: float = 3600.0,
    ) -> None:
        self.database = database
        self.stream = stream
        self.poll_seconds = poll_seconds
        self.retention_days = retention_days
        self.positioned = Wakeup()
        self._tasks: list[asyncio.Task[None]] = []
        self._retention = Periodic(
            self.sweep_once,
            every=retention_interval_seconds if retention_days > 0 else 0,
            name=f"{stream.name}_events_retention",
            wait_first=True,
        )

    @classmethod
    def for_settings(cls, database: Database, stream: EventStream, settings: Settings) -> EventRelay:
        """The relay of `stream` with the process's DEPOT_EVENTS_* settings."""
        return cls(
            database,
            stream,
            poll_seconds=settings.events_poll_seconds,
            retention_days=settings.events_retention_days,
            retention_interval_seconds=settings.events_retention_interval_seconds,
        )

    def start(self) -> EventRelay:
        """Starts listening, sequencing and the retention pass on the running loop; returns self."""
        if not self._tasks:
            self._tasks = [asyncio.ensure_future(self._listen()), asyncio.ensure_future(self._sequence())]
            self._retention.start()
        return self

    async def stop(self) -> None:
        """Stops every task of the relay and waits for them to end."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._retention.stop()

    async def place_once(self) -> int:
        """Gives up to PLACE_BATCH committed events their positions; returns how many it placed."""
        async with self.database.connection() as session:
            placed = int(
                (await session.execute(self.stream.statements["place"], {"batch": PLACE_BATCH})).scalar()
            )
        if placed:
            self.positioned.fire()
        return placed

    async def head(self) -> int:
        """The position of the newest placed event (0 before the first)."""
        async with self.database.connection() as session:
            return int((await session.execute(self.stream.statements["head"])).scalar_one())

    async def sweep_once(self) -> int:
        """Deletes the events older than the retention (one replica at a time); returns how many."""
        before = datetime.now(UTC) - timedelta(days=self.retention_days)
        async with one_replica_at_a_time(self.database, f"depot.events.{self.stream.name}") as held:
            if not held:  # another replica's turn; this look at the lock is no trace (Periodic)
                return 0
            with linked_span(
                "events.retention_pass", traceparent=None, attributes={"depot.stream": self.stream.name}
            ):
                removed = await delete_in_batches(
                    self.database,
                    lambda session: self._sweep_batch(session, before),
                    batch=SWEEP_BATCH,
                )
        if removed:
            log.info("events_swept", extra={"stream": self.stream.name, "events": removed})
        return removed

    async def _sweep_batch(self, session: Session, before: datetime) -> int:
        params = {"before": before, "batch": SWEEP_BATCH}
        return (await session.execute(self.stream.statements["sweep"], params)).rowcount

    async def _sequence(self) -> None:
        with untraced():  # twenty polls a second are no trace (this task's context only)
            await self._sequence_untraced()

    async def _sequence_untraced(self) -> None:
        pause = self.poll_seconds
        while True:
            try:
                while await self.place_once() == PLACE_BATCH:
                    pass
                pause = self.poll_seconds
            except Exception as exc:  # the database away, most likely: the loop outlives it
                pause = min(max(pause * 2, RECONNECT_FIRST), RECONNECT_MAX)
                log.warning(
                    "events_sequencer_failed",
                    extra={"stream": self.stream.name, "error": repr(exc), "retry_in": pause},
                )
            await asyncio.sleep(pause)

    async def _listen(self) -> None:
        pause = RECONNECT_FIRST
        stream = self.stream
        while True:
            try:
                conninfo = str(self.database.pool.conninfo)
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {stream.positioned_channel}")
                    pause = RECONNECT_FIRST
                    self.positioned.fire()  # whatever was placed while nobody listened
                    async for _ in conn.notifies():
                        self.positioned.fire()
            except (psycopg.Error, OSError) as exc:
                log.warning(
                    "events_listener_lost",
                    extra={"stream": stream.name, "error": repr(exc), "retry_in": pause},
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_MAX)
