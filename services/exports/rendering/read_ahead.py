"""Rendering and storing side by side: the rendered chunks are made in a thread of their own, a
bounded number of bytes ahead of the store that takes them.

In one thread the stages took turns: while the store waited for its write to be taken (the
blob store's COPY, an S3 part upload), nothing read the source stream, whose flow control then
held back the service formatting it, and the other way round. Each stage now waits only for
its own peer; the compressor and the hash release the GIL, so the two threads share two cores.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Generator, Iterable


class _Pipe:
    """Chunks handed from the producing thread to the consuming one, at most `max_bytes` waiting."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.ready = threading.Condition()
        self.chunks: deque[bytes] = deque()
        self.waiting_bytes = 0
        self.ended = False  # the producer is done: every chunk was handed over, or it failed
        self.error: BaseException | None = None
        self.abandoned = False  # the consumer stopped taking chunks

    def produce(self, chunks: Iterable[bytes]) -> None:
        source = iter(chunks)
        try:
            for chunk in source:
                with self.ready:
                    while self.waiting_bytes >= self.max_bytes and not self.abandoned:
                        self.ready.wait()
                    if self.abandoned:
                        break
                    self.chunks.append(chunk)
                    self.waiting_bytes += len(chunk)
                    self.ready.notify_all()
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            self.error = exc
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator's cleanup (a stream cancelled) runs here, not later
                close()
            with self.ready:
                self.ended = True
                self.ready.notify_all()

    def take(self) -> bytes | None:
        """The next chunk; None once the producer has handed over all of them."""
        with self.ready:
            while not self.chunks and not self.ended:
                self.ready.wait()
            if self.chunks:
                chunk = self.chunks.popleft()
                self.waiting_bytes -= len(chunk)
                self.ready.notify_all()
                return chunk
            if self.error is not None:
                raise self.error
            return None

    def abandon(self) -> None:
        with self.ready:
            self.abandoned = True
            self.chunks.clear()
            self.ready.notify_all()


def read_ahead(chunks: Iterable[bytes], *, max_bytes: int, name: str) -> Generator[bytes, None, None]:
    """The chunks, produced by a thread called `name` while the caller consumes them, at most
    about `max_bytes` ahead (one chunk more at worst). The producer runs in the caller's context
    (its trace). Its exception is raised here once the chunks before it are taken; closing this
    iterator early stops the producer after the chunk it is making and closes `chunks` there."""
    pipe = _Pipe(max_bytes)
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(pipe.produce, chunks), name=name, daemon=True)
    thread.start()
    try:
        while (chunk := pipe.take()) is not None:
            yield chunk
    finally:
        pipe.abandon()
        thread.join()
