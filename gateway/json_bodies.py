"""Every JSON request body is parsed once, bounded, before a route sees it.

Python's json module (which the routes' body parsing uses) takes NaN and Infinity, turns 1e400 into
inf and recurses once per nesting level. Here the body is first read by orjson — strict RFC 8259:
no NaN or Infinity, no number beyond a double, valid UTF-8 and surrogates, at most 1,024 levels, all
in C — and its nesting is measured on the raw bytes, so a body of 900 or 100,000 levels is a cheap
400 that names the problem. Only then does the route parse it again. Which values inside a body are
free-form JSON, and their own bounds (32 levels, integers within ±2^53), is the business of the
body's schema (`gateway.schemas.JsonObject`).
"""

from __future__ import annotations

import gc
import itertools
import operator
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
_OPENINGS = re.compile(rb"\[+")
_CLOSINGS = re.compile(rb"\]+")


def nesting_depth(raw: bytes, *, limit: int) -> int:
    """How deeply JSON nests, from its bytes (anything over `limit` may be reported as limit + 1).

    Strings are dropped (a bracket inside one is text) and the remaining brackets become one kind.
    A run of limit + 1 openings settles it at once; otherwise two passes remove the innermost pairs
    (the leaf containers, most of a body's brackets), each a level, and the runs of what is left
    measure the rest. Text that is not JSON gets some number, and the parser's refusal.
    """
    brackets = _STRING.sub(b"", raw).translate(_BRACKETS_AS_ONE_PAIR, _NOT_A_BRACKET)
    if b"[" * (limit + 1) in brackets:
        return limit + 1
    depth = 0
    for _ in range(2):
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            break
        brackets, depth = shorter, depth + 1
    # What is left alternates runs of openings and closings: the deepest point is the largest
    # running sum of the runs' lengths, summed by C iterators over runs rather than brackets.
    opens = map(len, _OPENINGS.findall(brackets))
    closes = map(operator.neg, map(len, _CLOSINGS.findall(brackets)))
    steps = itertools.chain.from_iterable(zip(opens, closes, strict=False))  # unequal only when not JSON
    return depth + max(itertools.accumulate(steps), default=0)


def _parse(raw: bytes) -> None:
    """orjson's strict parse (C, never deeper than 1,024 levels), its result dropped at once.

    The cyclic garbage collector is paused meanwhile: a body of many small containers would
    otherwise set it off again and again over objects that cannot form a cycle (150 ms instead of
    30 for a MiB of `[[]]`); nothing else runs while this synchronous call does.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        orjson.loads(raw)
    finally:
        if paused:
            gc.enable()


def problem(raw: bytes, *, max_depth: int = MAX_BODY_DEPTH) -> str | None:
    """Why a request body is not acceptable JSON, or None."""
    too_deep = f"the body must nest at most {max_depth} levels"
    try:
        _parse(raw)
    except orjson.JSONDecodeError as exc:
        return (
            too_deep
            if nesting_depth(raw, limit=max_depth) > max_depth
            else f"the body is not valid JSON: {exc}"
        )
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return None  # too few containers to nest deeper (a bracket inside a string only adds to the count)
    return too_deep if nesting_depth(raw, limit=max_depth) > max_depth else None


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
