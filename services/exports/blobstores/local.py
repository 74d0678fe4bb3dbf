"""Blobs as files under one directory (`DEPOT_BLOB_STORE=local:<dir>`), for one machine.

A write goes to a temporary file beside its target, is flushed and fsynced, renamed over the target
with `os.replace` and the directory fsynced: a reader sees the old bytes or the new ones, never a
part, and a crash leaves at most a temporary file. Temporary names hold `~`, which no key may hold,
so `entries()` never lists them; `remove_abandoned_temporaries` clears those a crash left behind.

Keys can never escape the directory: `check_key` (no empty, `.` or `..` segment), then the resolved
parent must lie inside the directory, and the file itself is opened without following a symlink.
A key cannot be both a blob and the folder of other blobs (`a` and `a/b`): the second is refused.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from services.exports.blobstores.base import STORE_CHUNK_BYTES, BlobEntry, BlobNotFound, check_key

_TEMPORARY_MARK = "~"  # outside the key alphabet, so no key ever names a temporary file
_TEMPORARY_PREFIX = f".{_TEMPORARY_MARK}"


class LocalBlobStore:
    """Blobs as files under `directory`, written atomically and read as bounded chunks."""

    def __init__(self, directory: str | os.PathLike[str], *, chunk_size: int = STORE_CHUNK_BYTES) -> None:
        if not os.fspath(directory):
            raise ValueError("a local blob store needs a directory: DEPOT_BLOB_STORE=local:<dir>")
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        self._root = root.resolve(strict=True)
        self._chunk_size = chunk_size

    @property
    def directory(self) -> Path:
        return self._root

    def put(self, key: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        target = self._path(key)
        self._make_directories(target.parent)
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f"{_TEMPORARY_PREFIX}{target.name[:200]}.", suffix=".tmp"
        )
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(descriptor, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except IsADirectoryError:
            os.unlink(temporary)
            raise ValueError(f"blob key {key!r} is the folder of other blobs") from None
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(target.parent)
        return size, digest.hexdigest()

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range [{start}, {end})")
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(f"no blob under key {key!r}") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ValueError(f"blob key {key!r} names a symbolic link") from None
            raise
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise BlobNotFound(f"no blob under key {key!r}")
        return self._read(descriptor, start, end)

    def _read(self, descriptor: int, start: int, end: int | None) -> Iterator[bytes]:
        with os.fdopen(descriptor, "rb", buffering=0) as source:
            position = start
            while end is None or position < end:
                want = self._chunk_size if end is None else min(self._chunk_size, end - position)
                chunk = os.pread(source.fileno(), want, position)
                if not chunk:
                    return
                position += len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        _fsync_directory(path.parent)

    def exists(self, key: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self._path(key)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def entries(self) -> Iterator[BlobEntry]:
        for directory, folders, files in os.walk(self._root):
            folders.sort()
            relative = Path(directory).relative_to(self._root)
            for name in sorted(files):
                key = (relative / name).as_posix()
                if not _is_key(key):
                    continue
                try:
                    status = os.lstat(os.path.join(directory, name))
                except FileNotFoundError:  # deleted while listing
                    continue
                if stat.S_ISREG(status.st_mode):
                    yield BlobEntry(key, datetime.fromtimestamp(status.st_mtime, UTC))

    def remove_abandoned_temporaries(self, *, older_than_seconds: float = 3600.0) -> int:
        """Deletes temporary files of writes that crashed at least `older_than_seconds` ago; returns how many."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for directory, _folders, files in os.walk(self._root):
            for name in files:
                path = os.path.join(directory, name)
                if name.startswith(_TEMPORARY_PREFIX) and os.lstat(path).st_mtime <= cutoff:
                    with suppress(FileNotFoundError):
                        os.unlink(path)
                        removed += 1
        return removed

    def close(self) -> None:
        """Nothing to release: every file is closed when its call or stream ends."""

    def _path(self, key: str) -> Path:
        """Where `key` lives; ValueError when it would leave the directory (`..`, `/`, NUL, a symlink)."""
        check_key(key)
        parent = (self._root / key).parent.resolve()
        if parent != self._root and self._root not in parent.parents:
            raise ValueError(f"blob key {key!r} leads outside the store")
        return parent / Path(key).name

    def _make_directories(self, directory: Path) -> None:
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                if not folder.is_dir():
                    raise ValueError(f"{folder.relative_to(self._root)} is a blob, not a folder") from None
            except NotADirectoryError:
                raise ValueError(f"{folder.parent.relative_to(self._root)} is a blob, not a folder") from None
            _fsync_directory(folder.parent)


def _is_key(name: str) -> bool:
    """False for temporary files (they hold `~`) and for anything else no key could name."""
    try:
        check_key(name)
    except ValueError:
        return False
    return True


def _fsync_directory(directory: Path) -> None:
    """Makes a rename or a new entry in `directory` durable."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
