"""Turning many small pieces, or a finished temp file, into a stream of ~64 KiB chunks."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK_SIZE = 64 * 1024


def byte_chunks(pieces: Iterable[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Join small pieces (a row each) into chunks of about `size` bytes."""
    buffer: list[bytes] = []
    buffered = 0
    for piece in pieces:
        buffer.append(piece)
        buffered += len(piece)
        if buffered >= size:
            yield b"".join(buffer)
            buffer.clear()
            buffered = 0
    if buffered:
        yield b"".join(buffer)


def text_chunks(pieces: Iterable[str], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """UTF-8 chunks of about `size` bytes from small text pieces."""
    return byte_chunks((piece.encode() for piece in pieces), size)


def file_chunks(path: Path, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Read a finished file back in chunks."""
    with path.open("rb") as stream:
        while chunk := stream.read(size):
            yield chunk


@contextmanager
def scratch_file(suffix: str) -> Iterator[Path]:
    """A temp file path for libraries that write whole files (xlsx, docx); removed afterwards."""
    descriptor, name = tempfile.mkstemp(prefix="depot-render-", suffix=suffix)
    os.close(descriptor)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
