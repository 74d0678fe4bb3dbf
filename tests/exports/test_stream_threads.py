"""A blocking stream read from async code is iterated and closed by one thread, never two at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from services.common.stream_threads import in_own_thread


@dataclass
class Recorded:
    """A generator's life: which threads ran it, and whether one was ever entered twice."""

    threads: set[str] = field(default_factory=set)
    produced: int = 0
    closed_by: str = ""
    running: bool = False
    overlapped: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)

    def chunks(self, count: int, *, block_at: int | None = None) -> Iterator[bytes]:
        try:
            for i in range(count):
                self._enter()
                if i == block_at:
                    self.started.set()
                    self.release.wait(10)
                self.produced += 1
                self.running = False
                yield f"chunk {i}".encode()
        finally:
            self.closed_by = threading.current_thread().name

    def _enter(self) -> None:
        self.overlapped |= self.running
        self.running = True
        self.threads.add(threading.current_thread().name)


async def _collect(stream: Iterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in in_own_thread(stream, name="stream-under-test")]


def _wait_closed(recorded: Recorded) -> None:
    for _ in range(200):
        if recorded.closed_by:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the stream was never closed")


def test_every_item_arrives_in_order_and_one_thread_reads_and_closes_the_stream() -> None:
    recorded = Recorded()
    got = asyncio.run(_collect(recorded.chunks(5)))
    assert got == [f"chunk {i}".encode() for i in range(5)]
    _wait_closed(recorded)
    assert recorded.threads == {"stream-under-test"} and recorded.closed_by == "stream-under-test"


def test_a_consumer_cancelled_mid_read_leaves_the_close_to_the_reading_thread_after_its_read() -> None:
    recorded = Recorded()

    async def cancelled_mid_read() -> None:
        async def consume() -> None:
            async for _ in in_own_thread(recorded.chunks(5, block_at=1), name="stream-under-test"):
                pass

        task = asyncio.create_task(consume())
        await asyncio.to_thread(recorded.started.wait, 10)  # the second next() is running now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not recorded.closed_by, "closed while a read was still running"
        recorded.release.set()

    asyncio.run(cancelled_mid_read())
    _wait_closed(recorded)
    assert recorded.closed_by == "stream-under-test" and not recorded.overlapped
    assert recorded.produced == 2, "the thread stops reading once its consumer is gone"


def test_an_error_of_the_stream_is_raised_in_the_consumer() -> None:
    def failing() -> Iterator[bytes]:
        yield b"first"
        raise OSError("the store went away")

    with pytest.raises(OSError, match="the store went away"):
        asyncio.run(_collect(failing()))


def test_the_thread_reads_at_most_one_item_ahead_of_a_slow_consumer() -> None:
    recorded = Recorded()

    async def slow() -> None:
        stream = in_own_thread(recorded.chunks(100), ahead=1)
        assert await anext(stream) == b"chunk 0"
        await asyncio.sleep(0.2)  # time enough for an unbounded reader to read everything
        assert recorded.produced <= 2, f"read {recorded.produced} items for one taken"
        await stream.aclose()

    asyncio.run(slow())
    _wait_closed(recorded)
    assert recorded.produced <= 2
