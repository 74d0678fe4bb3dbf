"""Turning events into deliveries: one consumer per source service (prompts, files, exports) reads
that service's EventsService.WatchEvents, as any internal caller does (a service token of the
exports service with all_users), and for each event queues a delivery per matching subscription
and moves the source's cursor past it, in one transaction. Until that commits the cursor stays
before the event, so a crash anywhere in between means the event is read again (and queued once:
deliveries are unique per subscription and event).

Each source's consumer runs on one exports replica at a time: the one holding a PostgreSQL
advisory lock for it, on a connection of its own, which PostgreSQL releases when that replica
dies. The others wait and retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import grpc
import orjson
import psycopg

from depot.events.v1 import events_pb2, events_pb2_grpc
from services.common.auth import ServiceTokens
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
        tokens: ServiceTokens,
        queued: Callable[[], None],
    ) -> None:
        self.source = source
        self._stub = events_pb2_grpc.EventsServiceStub(channel)
        self._url = libpq_url(database_url)
        self._uow = unit_of_work
        self._tokens = tokens
        self._queued = queued
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"webhook-consumer-{self.source}")

    async def stop(self) -> None:
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
                log.warning(
                    "webhook_stream_broken",
                    extra={
                        "source": self.source,
                        "code": exc.code().name,
                        "detail": (exc.details() or "")[:300],
                    },
                )
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _follow(self) -> None:
        """Reads the stream from the stored cursor. Whatever has arrived meanwhile is queued in one
        transaction that also moves the cursor past it (a batch, so a burst costs one commit)."""
        async with self._uow() as repo:
            after = await repo.cursor(source=self.source)
        token = self._tokens.mint(user_id=CONSUMER_USER, admin=True)
        request = events_pb2.WatchEventsRequest(after=after, all_users=True)
        call = self._stub.WatchEvents(request, metadata=(("authorization", f"Bearer {token}"),))
        arrived: asyncio.Queue[events_pb2.Event | None] = asyncio.Queue(maxsize=4 * MAX_BATCH)
        reader = asyncio.create_task(_read(call, arrived))
        try:
            while True:
                batch = [await arrived.get()]
                while len(batch) < MAX_BATCH and not arrived.empty():
                    batch.append(arrived.get_nowait())
                events = [e for e in batch if e is not None]
                if events:
                    await self._queue(events)
                if batch[-1] is None:  # the stream ended: its error, if any, is the reader's
                    await reader
                    return
        finally:
            reader.cancel()
            call.cancel()

    async def _queue(self, events: list[events_pb2.Event]) -> None:
        async with self._uow() as repo:
            queued = await repo.fan_out(events=[_event(e) for e in events])
            await repo.advance(source=self.source, cursor=events[-1].cursor)
        if queued:
            self._queued()


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
