"""Every JSON request body is parsed once, bounded, before a route sees it.

Python's json module (which the routes' body parsing uses) takes NaN and Infinity, turns 1e400 into
inf and recurses once per nesting level. Here the nesting is first measured on the raw bytes, so a
body of 900 or 100,000 levels is a cheap 400 that names the problem, and then the body is read by
orjson — strict RFC 8259: no NaN or Infinity, no number beyond a double, valid UTF-8 and
surrogates, all in C. Only then does the route parse it again. Which values inside a body are
free-form JSON, and their own bounds (32 levels, integers within ±2^53), is the business of the
body's schema (`gateway.schemas.JsonObject`).
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

# A body nests its free-form values (at most 32 levels each) a few levels down: twice that is plenty.
MAX_BODY_DEPTH = 64
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKETS_AS_ONE_PAIR = bytes.maketrans(b"{}", b"[]")


def nesting_depth(raw: bytes, *, limit: int) -> int:
    """How deeply JSON nests (counting no further than limit + 1), from its bytes.

    Strings are dropped (a bracket inside one is text), the remaining brackets become one kind,
    and each pass removes the innermost pairs: the number of passes is the depth. At most
    limit + 1 passes, each in C; text that is not JSON ends early and is left to the parser.
    """
    brackets = _STRING.sub(b"", raw).translate(_BRACKETS_AS_ONE_PAIR, _NOT_A_BRACKET)
    depth = 0
    while brackets and depth <= limit:
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):  # unbalanced: not JSON, which the parser reports
            break
        brackets, depth = shorter, depth + 1
    return depth


def problem(raw: bytes, *, max_depth: int = MAX_BODY_DEPTH) -> str | None:
    """Why a request body is not acceptable JSON, or None."""
    if nesting_depth(raw, limit=max_depth) > max_depth:
        return f"the body must nest at most {max_depth} levels"
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"the body is not valid JSON: {exc}"
    return None


def is_json(scope: Scope) -> bool:
    """Whether the route will parse the body as JSON (FastAPI's rule: application/json or */*+json)."""
    for key, value in scope.get("headers") or ():
        if key == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or (
                media_type.startswith(b"application/") and media_type.endswith(b"+json")
            )
    return False


class JsonBodies:
    """Refuses JSON bodies that are not strict, bounded JSON with 400 before the route runs."""

    def __init__(
        self, app: ASGIApp, *, exempt: Callable[[Scope], bool], max_depth: int = MAX_BODY_DEPTH
    ) -> None:
        self.app, self.exempt, self.max_depth = app, exempt, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json(scope) or self.exempt(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:  # the body limit around this middleware bounds what is read here
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left (or the body limit answered 413): nothing to route
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        found = problem(body, max_depth=self.max_depth) if body else None
        if found:
            await _refuse(send, found)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the route the body already read, then whatever comes next (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _refuse(send: Send, message: str) -> None:
    body = orjson.dumps(
        error_body("INVALID_ARGUMENT", message, [{"field": "body", "reason": "INVALID_JSON"}])
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
