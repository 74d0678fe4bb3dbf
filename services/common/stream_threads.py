"""Blocking iterators (a blob's chunks, a store's listing) read from async code, each in a thread
of its own that both iterates it and closes it.

A stream is never touched by two threads at once. Pulling `next()` through `asyncio.to_thread`
cannot promise that: a cancelled await leaves its `next()` running in the worker, and a `close()`
sent to another worker then meets it ("generator already executing" — or, for a PostgreSQL or S3
stream, two threads inside one C-level reader). Here the consumer going away (its task cancelled,
the stream closed or dropped unread) only raises a flag: the stream's thread sees it when its
current `next()` returns, closes the iterator itself and ends. Nothing on the event loop waits for
that, and nothing else ever holds the iterator.

Items reach the loop through a bounded handoff: the thread reads at most `ahead` items before they
are asked for, so a slow reader costs one parked thread and `ahead` items of memory. A stream's
thread lives exactly as long as its stream, so their number is bounded by the server's concurrent
calls (DEPOT_MAX_CONCURRENT_RPCS).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("depot.exports")

_END = object()


class _Failed:
    """What the iterator raised, carried to the consumer to be raised there."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Handoff:
    """The one place the stream's thread and the event loop meet: a queue filled from the thread
    (never more than `ahead` items waiting), and a flag the consumer raises when it is gone."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ahead: int) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._loop = loop
        self._room = threading.Semaphore(ahead)  # taken per item read, given back per item taken
        self._gone = threading.Event()

    # In the stream's thread -------------------------------------------------------------------

    def pump(self, items: Iterator[Any]) -> None:
        """Reads `items` into the queue until it ends, fails or nobody wants more; then closes it."""
        try:
            while self._wanted():
                try:
                    item = next(items, _END)
                except BaseException as exc:  # raised again in the consumer, with its traceback
                    self._send(_Failed(exc))
                    return
                if not self._send(item) or item is _END:
                    return
        finally:
            _close(items)

    def _wanted(self) -> bool:
        self._room.acquire()  # parks while the consumer is `ahead` items behind
        return not self._gone.is_set()

    def _send(self, item: Any) -> bool:
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the process is stopping, nobody will read
            return False
        return True

    # On the event loop ------------------------------------------------------------------------

    def taken(self) -> None:
        self._room.release()

    def leave(self) -> None:
        """The consumer is gone: the thread stops after its current `next()`, wherever it is."""
        self._gone.set()
        self._room.release()  # wakes a thread parked for room


def close_iterator(items: Iterator[Any]) -> None:
    """Closes an iterator that can be closed (a generator, a store's stream); others hold nothing."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _close(items: Iterator[Any]) -> None:
    try:
        close_iterator(items)
    except Exception:  # a stream that fails to close has still been left; its reader is done
        log.warning("stream_close_failed", exc_info=True)


async def in_own_thread(
    items: Iterator[T], *, ahead: int = 1, name: str = "depot-stream"
) -> AsyncGenerator[T, None]:
    """The items of a blocking iterator, read ahead by at most `ahead` in a thread of their own,
    which also closes the iterator; the caller must hand the iterator over and not touch it again."""
    if ahead < 1:
        raise ValueError(f"ahead must be at least 1, got {ahead}")
    handoff = _Handoff(asyncio.get_running_loop(), ahead)
    threading.Thread(target=handoff.pump, args=(items,), name=name, daemon=True).start()
    try:
        while (item := await handoff.queue.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            handoff.taken()
            yield item
    finally:
        handoff.leave()
