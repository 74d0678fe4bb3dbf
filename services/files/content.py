"""Received file content held outside the database until it is written in one short transaction.

An upload arrives at the client's pace; holding a database connection and transaction open for
all of it would let a few slow clients exhaust the pool. So the bytes go to a spooled temporary
file first (in memory up to 256 KiB, then on disk), hashed and counted as they arrive, and the
transaction that stores them starts only once the whole content is here. Memory stays at about
one chunk per upload whatever the file size.

Writes and reads of the spool are synchronous: they go to the page cache and take microseconds
per chunk, far less than handing each one to a thread.
"""

from __future__ import annotations

import hashlib
import tempfile
from types import TracebackType
from typing import BinaryIO

MEMORY_BYTES = 256 * 1024


class Spool:
    """Bytes appended in order, with their running size and SHA-256; read back in fixed-size pieces."""

    def __init__(self, *, memory_bytes: int = MEMORY_BYTES) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=memory_bytes, prefix="depot-upload-")  # noqa: SIM115
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def reader(self) -> BinaryIO:
        """The content from its first byte, to read(n) from."""
        self._file.seek(0)
        return self._file  # type: ignore[return-value]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
