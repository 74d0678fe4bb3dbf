"""Watching a service's event stream over gRPC, as a consumer would."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import grpc

from depot.events.v1 import events_pb2 as pb
from depot.events.v1 import events_pb2_grpc
from tests.support.system import System, User


def watch(
    system: System,
    user: User,
    *,
    service: str = "prompts",
    after: str = "",
    types: Iterable[str] = (),
    all_users: bool = False,
    until: Callable[[pb.Event], bool],
    timeout: float = 30,
) -> list[pb.Event]:
    """The events of the stream up to and including the first for which `until` holds."""
    channel = system.channel(service)
    call = events_pb2_grpc.EventsServiceStub(channel).WatchEvents(
        pb.WatchEventsRequest(after=after, types=list(types), all_users=all_users),
        metadata=user.metadata,
        timeout=timeout,
    )
    events: list[pb.Event] = []
    try:
        for response in call:
            events.append(response.event)
            if until(response.event):
                return events
    except grpc.RpcError as error:
        seen = [(e.type, e.subject) for e in events]
        raise AssertionError(f"stream ended with {error.code()} after {seen}") from error
    finally:
        call.cancel()
        channel.close()
    raise AssertionError("stream ended")


def watch_error(
    system: System, user: User, *, service: str = "prompts", timeout: float = 10, **request: Any
) -> grpc.RpcError:
    """The error WatchEvents answers this request with."""
    channel = system.channel(service)
    call = events_pb2_grpc.EventsServiceStub(channel).WatchEvents(
        pb.WatchEventsRequest(**request), metadata=user.metadata, timeout=timeout
    )
    try:
        next(iter(call))
    except grpc.RpcError as error:
        return error
    finally:
        call.cancel()
        channel.close()
    raise AssertionError("WatchEvents answered an event instead of an error")


def subject_is(subject: str, event_type: str) -> Callable[[pb.Event], bool]:
    return lambda e: e.subject == subject and e.type == event_type


def data(event: pb.Event) -> dict[str, Any]:
    """The event's data as plain Python (whole numbers as int)."""
    from google.protobuf.json_format import MessageToDict

    values = MessageToDict(event.data)
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in values.items()}
