"""Turning events into deliveries: one consumer per source service (prompts, files, exports) reads
that service's EventsService.WatchEvents, as any internal caller does (a service token of the
exports service with all_users), and for each batch of events queues a delivery per matching
subscription and moves the source's cursor past them, in one transaction. Until that commits the
cursor stays before the events, so a crash anywhere in between means they are read again (and
queued once: deliveries are unique per subscription and event).

Most events match no subscription, and those cost little: one look per batch at which of its
owners' types an active subscription wants (in the transaction that would queue them), no JSON
body, and a stored cursor that may trail them. It is stored with every batch that matched, and
otherwise once CURSOR_EVERY_EVENTS events or CURSOR_EVERY_SECONDS have gone by, and when the stream
ends or the consumer stops; a crash before that re-reads at most those unmatched events, which
queue nothing.

Each source's consumer runs on one exports replica at a time: the one holding a PostgreSQL
advisory lock for it, on a connection of its own, which PostgreSQL releases when that replica
dies. The others wait and retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
import orjson
import psycopg

from depot.events.v1 import events_pb2, events_pb2_grpc
from services.common.auth import ServiceTokens
from services.common.channels import error_infos
from services.common.database import libpq_url
from services.common.json_values import struct_dict
from services.common.timestamps import datetime_of
from services.exports.webhooks.repository import Event, WebhooksUnitOfWork

log = logging.getLogger("depot.exports.webhooks")
# The acting user of the consumers' service tokens (an admin, for all_users).
CONSUMER_USER = "depot-webhooks"
LOCK_KEY = "depot.webhooks.consumer."
# How often a waiting replica tries the lock, the holder checks it still holds it, and a broken
# stream is opened again.
LOCK_RETRY_SECONDS = 2.0
LOCK_CHECK_SECONDS = 5.0
RECONNECT_SECONDS = 1.0
# A source that serves no events (UNIMPLEMENTED) is asked again this much later.
UNSERVED_RETRY_SECONDS = 30.0
# At most this many events are queued in one transaction.
MAX_BATCH = 500
# Once an event arrives, the rest of its burst (the relay places events every 50 ms) is awaited
# this long, so a burst is one batch and one look at the subscriptions, not one per event.
BATCH_LINGER_SECONDS = 0.005
# How far the stored cursor may trail events that matched no subscription.
CURSOR_EVERY_EVENTS = 2000
CURSOR_EVERY_SECONDS = 1.0
# How long storing the cursor on the way out may take (the database may be what went away).
FINAL_STORE_SECONDS = 2.0


def event_body(event: events_pb2.Event) -> str:
    """The JSON a delivery POSTs: `{id, type, created_at, subject, data}`."""
    created = datetime_of(event.create_time).isoformat().replace("+00:00", "Z")
    body = {
        "id": event.id,
        "type": event.type,
        "created_at": created,
        "subject": event.subject,
        "data": struct_dict(event.data),
    }
    return orjson.dumps(body).decode()


class Consumer:
    """The consumer of one source's event stream, while this replica holds its lock."""

    def __init__(
        self,
        *,
        source: str,
        channel: grpc.aio.Channel,
        database_url: str,
        unit_of_work: WebhooksUnitOfWork,
        reads: WebhooksUnitOfWork,
        tokens: ServiceTokens,
        queued: Callable[[], None],
    ) -> None:
        self.source = source
        self._stub = events_pb2_grpc.EventsServiceStub(channel)
        self._url = libpq_url(database_url)
        self._uow = unit_of_work
        self._reads = reads  # single statements, each in autocommit
        self._tokens = tokens
        self._queued = queued
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"webhook-consumer-{self.source}")

    async def stop(self) -> None:
        # The loops check the flag too: a task cancelled while it awaits another task receives that
        # task's outcome instead when it ignores the cancellation, as a gRPC stream's reader that
        # ends with the source's UNAVAILABLE does; the consumer would then reconnect and run on.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook_consumer_lost", extra={"source": self.source, "error": repr(exc)[:300]})
            if self._stopping:
                return
            await asyncio.sleep(LOCK_RETRY_SECONDS)

    async def _lead(self) -> None:
        """Holds the source's lock for as long as its connection lives, consuming meanwhile."""
        async with await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, application_name="depot-exports-webhooks"
        ) as lock:
            key = LOCK_KEY + self.source
            if not await _try_lock(lock, key):
                return  # another replica consumes this source; try again later
            log.info("webhook_consumer_leading", extra={"source": self.source})
            consuming = asyncio.create_task(self._consume())
            try:
                while not consuming.done():
                    await asyncio.wait({consuming}, timeout=LOCK_CHECK_SECONDS)
                    await lock.execute("SELECT 1")  # raises when the connection, and the lock, are gone
                await consuming
            finally:
                consuming.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await consuming

    async def _consume(self) -> None:
        while True:
            try:
                await self._follow()
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    await asyncio.sleep(UNSERVED_RETRY_SECONDS)
                    continue
                # A source that stops ends its watches on purpose (SERVER_STOPPING): an expected
                # end, resumed from the stored cursor like any other, and no warning.
                stopping = any(info["reason"] == "SERVER_STOPPING" for info in error_infos(exc))
                log.log(
                    logging.INFO if stopping else logging.WARNING,
                    "webhook_stream_ended" if stopping else "webhook_stream_broken",
                    extra={
                        "source": self.source,
                        "code": exc.code().name,
                        "detail": (exc.details() or "")[:300],
                    },
                )
            if self._stopping:
                return
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _follow(self) -> None:
        """Reads the stream from the stored cursor. Whatever has arrived meanwhile is handled as one
        batch (a burst costs one transaction); see the module's docstring for when the cursor is stored."""
        async with self._uow() as repo:
            after = await repo.cursor(source=self.source)
        token = self._tokens.mint(user_id=CONSUMER_USER, admin=True)
        request = events_pb2.WatchEventsRequest(after=after, all_users=True)
        call = self._stub.WatchEvents(request, metadata=(("authorization", f"Bearer {token}"),))
        arrived: asyncio.Queue[events_pb2.Event | None] = asyncio.Queue(maxsize=4 * MAX_BATCH)
        reader = asyncio.create_task(_read(call, arrived))
        trail = _Trail()
        try:
            while True:
                try:
                    async with asyncio.timeout(trail.wait()):  # (see services/common/background.py)
                        first = await arrived.get()
                except TimeoutError:  # quiet since the last unmatched events: store how far they went
                    await self._store(trail.cursor)
                    trail.stored()
                    continue
                if first is not None and arrived.qsize() < MAX_BATCH:
                    await asyncio.sleep(BATCH_LINGER_SECONDS)
                batch = [first]
                while len(batch) < MAX_BATCH and not arrived.empty():
                    batch.append(arrived.get_nowait())
                events = [e for e in batch if e is not None]
                if events:
                    await self._queue(events, trail)
                if batch[-1] is None:  # the stream ended: its error, if any, is the reader's
                    await reader
                    return
        finally:
            reader.cancel()
            call.cancel()
            if trail.cursor:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    async with asyncio.timeout(FINAL_STORE_SECONDS):
                        await self._store(trail.cursor)

    async def _queue(self, events: list[events_pb2.Event], trail: _Trail) -> None:
        """Queues the deliveries of the events some active subscription wants and stores the cursor
        past the batch, in one transaction; a batch that matches none costs one read (and the
        cursor's store when the trail is due). The trail takes a batch only once it is known to
        queue nothing."""
        cursor = events[-1].cursor
        async with self._reads() as repo:
            wanted = await repo.wanted(owners=list({e.owner for e in events}))
        matched = [_event(e) for e in events if (e.owner, e.type) in wanted] if wanted else []
        if not matched:
            if trail.due(len(events)):
                await self._store(cursor)
                trail.stored()
            else:
                trail.passed(cursor, len(events))
            return
        async with self._uow() as repo:  # the fan-out judges each subscription again, as it stands now
            queued = await repo.fan_out(events=matched)
            await repo.advance(source=self.source, cursor=cursor)
        trail.stored()
        if queued:
            self._queued()

    async def _store(self, cursor: str) -> None:
        async with self._reads() as repo:
            await repo.advance(source=self.source, cursor=cursor)


class _Trail:
    """The cursor of the last event handled, while it is ahead of the stored one: how many events
    and since when (monotonic) it has been ahead."""

    def __init__(self) -> None:
        self.cursor = ""
        self._events = 0
        self._since = 0.0

    def passed(self, cursor: str, events: int) -> None:
        if not self.cursor:
            self._since = time.monotonic()
        self.cursor, self._events = cursor, self._events + events

    def due(self, more: int) -> bool:
        """Whether `more` events past the trail take it to where the cursor is stored."""
        if not self.cursor:
            return more >= CURSOR_EVERY_EVENTS
        return (
            self._events + more >= CURSOR_EVERY_EVENTS
            or time.monotonic() - self._since >= CURSOR_EVERY_SECONDS
        )

    def wait(self) -> float | None:
        """How long the next event may be awaited before the cursor is due: None when it is stored."""
        if not self.cursor:
            return None
        return max(0.0, self._since + CURSOR_EVERY_SECONDS - time.monotonic())

    def stored(self) -> None:
        self.cursor, self._events = "", 0


async def _read(call: Any, arrived: asyncio.Queue[events_pb2.Event | None]) -> None:
    try:
        async for response in call:
            await arrived.put(response.event)
    finally:
        await arrived.put(None)


def _event(event: events_pb2.Event) -> Event:
    return Event(
        id=event.id,
        type=event.type,
        subject=event.subject,
        owner=event.owner,
        body=event_body(event),
        created_at=datetime_of(event.create_time),
    )


async def _try_lock(connection: psycopg.AsyncConnection, key: str) -> bool:
    cursor = await connection.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,))
    row = await cursor.fetchone()
    return bool(row and row[0])
