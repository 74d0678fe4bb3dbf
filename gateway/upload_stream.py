"""A request body relayed to a client-streaming RPC as it arrives: the header message first, then
the body in chunk messages of about MESSAGE_BYTES (one gRPC message per few socket reads, never
the whole body in memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

MESSAGE_BYTES = 256 * 1024


async def header_then_chunks(
    header: Any, body: AsyncIterator[bytes], chunk: Callable[[bytes], Any]
) -> AsyncIterator[Any]:
    """Yields `header`, then `chunk(bytes)` for each MESSAGE_BYTES or so of `body`."""
    yield header
    buffer = bytearray()
    async for piece in body:
        buffer += piece
        if len(buffer) >= MESSAGE_BYTES:
            yield chunk(bytes(buffer))
            buffer.clear()
    if buffer:
        yield chunk(bytes(buffer))
