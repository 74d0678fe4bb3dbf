"""EventsService.WatchEvents over one service's stream: replay after the cursor, then follow.

A watcher reads a page (PAGE_SIZE events) at a time on a pooled connection it gives back before
sending, so it holds no connection and no transaction while a slow client reads, and its memory is
one page whatever the backlog. Once it has caught up it waits for the relay's wake-up (or WATCH_POLL_SECONDS) and reads again. A client that goes away cancels the call, which ends the loop.

A watch lasts as long as its client, so a stopping server ends them (`end_watches`, the server's
drain hook): each open watch ends with UNAVAILABLE after the page it is sending, and new ones are
refused the same way; the watcher resumes from its last cursor on another replica or after the
restart, and the server is not held for its whole grace period by calls that never finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from depot.events.v1 import events_pb2 as pb
from depot.events.v1 import events_pb2_grpc
from services.common.errors import InvalidArgument, PermissionDenied, Unavailable
from services.common.events.cursor import decode_cursor, encode_cursor
from services.common.events.relay import WATCH_POLL_SECONDS, EventRelay
from services.common.grpc_server import Registration
from services.common.interceptors import current_principal
from services.common.timestamps import timestamp
from services.common.trace_context import untraced

PAGE_SIZE = 100
MAX_TYPES = 32
FULL_NAME = pb.DESCRIPTOR.services_by_name["EventsService"].full_name


class EventsServicer:
    """WatchEvents of one stream (the relay's)."""

    def __init__(self, relay: EventRelay) -> None:
        self._relay = relay
        self._stream = relay.stream
        self._ending = False

    def end_watches(self) -> None:
        """Ends the open watches and refuses new ones (the server is stopping)."""
        self._ending = True
        self._relay.positioned.fire()  # wakes the watches that wait for new events

    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchEventsResponse]:
        self._refuse_when_ending()
        principal = current_principal()
        if request.all_users and not principal.is_admin:
            raise PermissionDenied("all_users is for admins", field="all_users")
        types = self._checked_types(request.types)
        after = decode_cursor(self._stream.name, request.after)
        if after > await self._relay.head():
            raise InvalidArgument(
                "after lies beyond the newest event of this stream", reason="INVALID_CURSOR", field="after"
            )
        statement = self._stream.sql("page_of_all" if request.all_users else "page_of_owner")
        params: dict[str, Any] = {"types": types, "owner": principal.user_id, "limit": PAGE_SIZE}
        while True:
            woken = self._relay.positioned.current()
            # A watch may last hours and read twenty times a second: its reads are no spans of its trace.
            with untraced():
                async with self._relay.database.connection() as session:
                    rows = (await session.execute(statement, {**params, "after": after})).all()
            for row in rows:
                yield self._response(row)
                after = row.position
            self._refuse_when_ending()
            if len(rows) < PAGE_SIZE:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WATCH_POLL_SECONDS):
                        await woken.wait()

    def _refuse_when_ending(self) -> None:
        if self._ending:
            raise Unavailable(
                "the server is stopping; watch again with the cursor of the last event received",
                reason="SERVER_STOPPING",
            )

    def _checked_types(self, types: Any) -> list[str]:
        if len(types) > MAX_TYPES:
            raise InvalidArgument(f"types names at most {MAX_TYPES} types", field="types")
        unknown = [t for t in types if t not in self._stream.types]
        if unknown:
            raise InvalidArgument(
                f"types: {unknown[0][:64]!r} is not an event type of the {self._stream.name} stream"
                f" (its types: {', '.join(self._stream.types)})",
                field="types",
            )
        return list(dict.fromkeys(types))

    def _response(self, row: Any) -> pb.WatchEventsResponse:
        """The row as a response, its event filled in place: a message built apart and then set as
        the response's event would be copied whole (with its Struct), more than the building itself."""
        response = pb.WatchEventsResponse()
        event = response.event
        event.id = str(row.id)
        event.type = row.type
        event.create_time.CopyFrom(timestamp(row.created_at))
        event.subject = row.subject
        event.owner = row.owner
        event.data.update(row.data)
        event.cursor = encode_cursor(self._stream.name, row.position)
        return response


def events_registration(relay: EventRelay) -> Registration:
    """The EventsService registration a service adds to its server for its own stream."""
    servicer = EventsServicer(relay)
    return Registration(
        events_pb2_grpc.add_EventsServiceServicer_to_server,
        servicer,
        FULL_NAME,
        end_calls=servicer.end_watches,
    )
