"""An ASGI middleware that closes stalled connections: an upload whose next piece of body, or a
download whose next write, does not arrive (or drain) within `seconds` (DEPOT_HTTP_IDLE_TIMEOUT_SECONDS).

Slow clients that keep moving are served; one that stops holds a connection (and the gRPC call
behind it) for at most that long. Waiting for a disconnect after the body is complete is not bounded.
What comes before a request reaches the app (its line and headers, an idle kept-alive connection)
is bounded by the HTTP protocol itself: gateway/http_protocol.py.
"""

from __future__ import annotations

import asyncio

import orjson

from gateway.errors import error_body
from gateway.limits import ASGIApp, Message, Receive, Scope, Send


class _Stalled(Exception):
    pass


class IdleTimeout:
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = started = stalled = False

        async def bounded_receive() -> Message:
            nonlocal body_done, stalled
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                stalled = True
                raise _Stalled from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def bounded_send(message: Message) -> None:
            nonlocal started, stalled
            if stalled:  # whatever the app made of the stalled body (a cancelled call), the answer is 408
                raise _Stalled
            started = started or message["type"] == "http.response.start"
            try:
                async with asyncio.timeout(self.seconds):
                    await send(message)
            except TimeoutError:
                stalled = True
                raise _Stalled from None

        try:
            await self.app(scope, bounded_receive, bounded_send)
        except (Exception, asyncio.CancelledError):  # gRPC cancels a call whose request stream failed
            if not stalled:
                raise
            if not started:
                await _request_timeout(send)
            # Otherwise returning mid-response makes the server close the connection.


async def _request_timeout(send: Send) -> None:
    body = orjson.dumps(error_body("REQUEST_TIMEOUT", "the request body stalled; send it faster"))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})
