"""HEAD on every GET route, as one ASGI middleware: the request runs as a GET and its answer keeps
the status and headers (Content-Length, ETag, Content-Type…) but sends no body (RFC 9110 §9.3.2).

A streamed download is not read from its service just to be dropped: as soon as the status and
headers are out, the HEAD's answer is complete and the route is told that the client has gone
(`http.disconnect`), which ends a StreamingResponse and so cancels its gRPC call after at most a
message or two; whatever body the route still sends is dropped, never buffered. Routes without a
GET answer a HEAD with 405, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from gateway.limits import ASGIApp, Message, Receive, Scope, Send

_END_OF_BODY: Message = {"type": "http.response.body", "body": b"", "more_body": False}
_DISCONNECT: Message = {"type": "http.disconnect"}


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        answered = asyncio.Event()

        async def send_headers_only(message: Message) -> None:
            if answered.is_set():
                return
            if message["type"] == "http.response.start":
                await send(message)
                await send(_END_OF_BODY)  # the server writes no body bytes for a HEAD
                answered.set()

        async def receive_until_answered() -> Message:
            if answered.is_set():
                return _DISCONNECT
            return await _first_of(receive(), answered)

        # The server's own scope keeps "HEAD" (so it writes no body); the routes see a GET.
        await self.app({**scope, "method": "GET"}, receive_until_answered, send_headers_only)


async def _first_of(message: Awaitable[Message], answered: asyncio.Event) -> Message:
    """The client's next message, or a disconnect once the HEAD has been answered."""
    received = asyncio.ensure_future(message)
    done = asyncio.ensure_future(answered.wait())
    try:
        await asyncio.wait({received, done}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        done.cancel()
        if not received.done():
            received.cancel()
    if received.cancelled() or not received.done():
        return _DISCONNECT
    return received.result()
