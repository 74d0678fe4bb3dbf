"""An ASGI middleware that refuses request bodies over a limit with 413, counting as it reads.

The limit holds however the body arrives: a Content-Length over it is refused before anything is
read, and a chunked body is counted as it streams in and answered 413 the moment it passes — the
route then sees a disconnect, and whatever it answers is dropped. The limit is per route: routes
that stream large uploads (chat files) are exempt and enforce their own, and the artifact route
takes a whole table artifact.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from gateway.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The files service takes artifacts of up to 4 MiB as it counts them (string bytes plus framing,
# 12 bytes a number); written as JSON a number takes up to 25 bytes and an escaped character up to
# 6, so the artifact route takes three times that.
ARTIFACT_BODY_BYTES = 12 * 1024 * 1024
_ARTIFACTS = re.compile(r"/api/v1/chats/[^/]+/artifacts/?")


def body_limit(scope: Scope, *, default: int) -> int:
    """The largest body a request to this route may carry."""
    if scope["method"] == "POST" and _ARTIFACTS.fullmatch(scope["path"]):
        return max(default, ARTIFACT_BODY_BYTES)
    return default


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limit_for: Callable[[Scope], int | None]) -> None:
        """`limit_for` gives a request's limit in bytes, or None for a route that enforces its own."""
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared, bounds_body = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        if bounds_body:  # the server reads that many bytes of body and no more: nothing to count
            await self.app(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 is the answer; the route's own reply to the disconnect goes nowhere
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


def _declared_length(scope: Scope) -> tuple[int | None, bool]:
    """The length the (last) Content-Length declares, if in digits, and whether it alone bounds the
    body: the only Content-Length, and no Transfer-Encoding beside it (otherwise the body is counted)."""
    declared: int | None = None
    lengths = 0
    encoded = False
    for key, value in scope.get("headers") or ():
        if key == b"content-length":
            lengths += 1
            declared = int(value) if value.isdigit() else None
        elif key == b"transfer-encoding":
            encoded = True
    return declared, declared is not None and lengths == 1 and not encoded


async def _refuse(send: Send, limit: int) -> None:
    body = orjson.dumps(error_body("PAYLOAD_TOO_LARGE", f"request body must be at most {limit} bytes"))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The rest of the body is not read: the client must not send its next request on this connection.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
