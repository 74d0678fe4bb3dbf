"""Change events of every service that owns data: a transactional outbox per schema, a relay that
places committed events in commit order, and EventsService.WatchEvents over them.

A service declares its stream and wires it in its server.py:

    EVENTS = EventStream(schema="prompts", types=("prompt.created", ...))
    relay = EventRelay(database, EVENTS, poll_seconds=..., retention_days=...).start()
    registrations = [..., events_registration(relay)]
    ...
    await relay.stop()

The rows themselves are written by the schema's triggers (its events revision, migrations/outbox.py).
A consumer (webhooks) calls WatchEvents with the cursor of the last event it handled.
"""

from services.common.events.cursor import decode_cursor, encode_cursor
from services.common.events.relay import EventRelay
from services.common.events.servicer import EventsServicer, events_registration
from services.common.events.stream import EventStream

__all__ = [
    "EventRelay",
    "EventStream",
    "EventsServicer",
    "decode_cursor",
    "encode_cursor",
    "events_registration",
]
