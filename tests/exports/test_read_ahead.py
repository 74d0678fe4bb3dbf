"""Rendering ahead of storing (services/exports/rendering/read_ahead.py): every chunk in order,
never more than the bound waiting, the producer's failure raised to the consumer after the chunks
before it, and a consumer that stops ends the producer and closes its source in the producer's thread."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator

import pytest

from services.exports.rendering.read_ahead import read_ahead

CHUNK = b"x" * 1000
TRACE = contextvars.ContextVar("trace", default="none")


class Source:
    """Chunks made on demand, recording who made them, how far ahead, and who closed the source."""

    def __init__(self, count: int, *, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.made = 0
        self.taken = 0
        self.most_ahead = 0
        self.threads: set[str] = set()
        self.contexts: set[str] = set()
        self.closed_in = ""

    def chunks(self) -> Iterator[bytes]:
        try:
            for i in range(self.count):
                if i == self.fail_at:
                    raise RuntimeError(f"source failed at chunk {i}")
                self.threads.add(threading.current_thread().name)
                self.contexts.add(TRACE.get())
                self.made += 1
                self.most_ahead = max(self.most_ahead, self.made - self.taken)
                yield CHUNK + str(i).encode()
        finally:
            self.closed_in = threading.current_thread().name


def test_every_chunk_arrives_in_order_made_in_a_thread_of_its_own_in_the_callers_context() -> None:
    source = Source(200)
    TRACE.set("the job's trace")
    got = []
    for chunk in read_ahead(source.chunks(), max_bytes=10 * len(CHUNK), name="render-ahead"):
        got.append(chunk)
        source.taken += 1
    assert got == [CHUNK + str(i).encode() for i in range(200)]
    assert source.threads == {"render-ahead"} and source.closed_in == "render-ahead"
    assert source.contexts == {"the job's trace"}


def test_no_more_than_the_bound_waits_for_a_slow_consumer() -> None:
    source = Source(100)
    ahead = read_ahead(source.chunks(), max_bytes=5 * len(CHUNK), name="render-ahead")
    for _ in ahead:
        source.taken += 1
        threading.Event().wait(0.002)  # a slow store: the producer fills the pipe meanwhile
    # five chunks' bytes waiting at most, the one being handed over, and the one being taken
    assert source.most_ahead <= 7


def test_the_producers_failure_is_raised_after_the_chunks_before_it() -> None:
    source = Source(50, fail_at=30)
    got = []
    with pytest.raises(RuntimeError, match="source failed at chunk 30"):
        for chunk in read_ahead(source.chunks(), max_bytes=4 * len(CHUNK), name="render-ahead"):
            got.append(chunk)
    assert len(got) == 30
    assert source.closed_in == "render-ahead"


def test_a_consumer_that_stops_ends_the_producer_and_closes_the_source_in_its_thread() -> None:
    source = Source(10_000)
    ahead = read_ahead(source.chunks(), max_bytes=4 * len(CHUNK), name="render-ahead")
    with contextlib.closing(ahead):
        for taken, _ in enumerate(ahead):
            if taken == 3:
                break  # the store failed, say
    assert source.closed_in == "render-ahead"  # closed (the stream cancelled) before closing returned
    assert source.made < 20  # and it stopped making chunks nobody takes
    assert not [t for t in threading.enumerate() if t.name == "render-ahead"]


def test_closing_before_the_first_chunk_starts_nothing() -> None:
    source = Source(10)
    read_ahead(source.chunks(), max_bytes=len(CHUNK), name="render-ahead").close()
    assert source.made == 0 and source.closed_in == ""
