"""CSV (one table, or a zip of one csv per table) and streamed zip archives (chats)."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from itertools import chain

from services.exports.rendering.renderers.cells import spreadsheet_text
from services.exports.rendering.renderers.chunks import CHUNK_SIZE
from services.exports.rendering.renderers.model import CsvMode, Report, Table

_UNSAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def render_csv(report: Report, mode: CsvMode) -> Iterator[bytes]:
    """One table → CSV (RFC 4180, header row first); several tables → a zip of one csv per table.

    A CSV holds one rectangular table, so the report's fields come first on every row, as columns
    named `<subject>.<key>` (`prompt.original_text`): a csv reader gets one table, a spreadsheet
    user can filter on them, and no field is dropped. A table without rows still has one row, of
    its fields. Every cell and header passes `spreadsheet_text` (formula neutralisation).
    """
    return one_file_per_table(report, "csv", lambda table: _encoded(_csv_text(report, table, mode)))


def one_file_per_table(
    report: Report, extension: str, write: Callable[[Table], Iterator[bytes]]
) -> Iterator[bytes]:
    """`write(table)` of the report's only table, or a zip of `<table name>.<extension>` files: the
    shape of every format that holds one table per file (csv, jsonl, parquet)."""
    tables = iter(report.tables)
    first = next(tables, None)
    if first is None:
        return iter(())
    second = next(tables, None)
    if second is None:
        return write(first)
    return render_zip(
        (name, write(table)) for name, table in file_names(chain([first, second], tables), extension)
    )


def render_zip(
    files: Iterable[tuple[str, Iterable[bytes]]], *, stored: Callable[[str], bool] | None = None
) -> Iterator[bytes]:
    """A zip of (name, chunks) entries, streamed: never seeks, holds about one chunk at a time.

    Names must already be safe paths inside an archive (the caller owns that rule). Entries for which
    `stored(name)` is true are stored as they are: deflating bytes that are already compressed (or
    random) costs far more CPU than it saves (about 9 MB/s on one core here) and saves nothing.
    """
    sink = _WriteOnlyStream()
    # No tell/seek on the sink makes zipfile write sizes in data descriptors after each entry.
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in files:
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_STORED if stored and stored(name) else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # rw-r--r-- when unpacked
            # Sizes are unknown up front; zip64 lets an entry pass 2 GiB instead of failing at the end.
            with archive.open(info, mode="w", force_zip64=True) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    if sink.size >= CHUNK_SIZE:
                        yield sink.take()
    if sink.size:
        yield sink.take()


class _WriteOnlyStream(io.RawIOBase):
    """Collects what zipfile writes until the generator hands it on."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        raise OSError("not seekable")  # zipfile falls back to its own position counter

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data


def _csv_text(report: Report, table: Table, mode: CsvMode) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # excel dialect: CRLF line ends, quotes only where needed
    header = [f"{report.subject}.{key}" for key, _ in report.fields] + table.columns
    writer.writerow([spreadsheet_text(name, mode) for name in header])
    lead = [spreadsheet_text(value, mode) for _, value in report.fields]
    empty = True
    for row in table.rows:
        writer.writerow(lead + [spreadsheet_text(cell, mode) for cell in row])
        empty = False
        if buffer.tell() >= CHUNK_SIZE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if empty and lead:
        writer.writerow(lead + [""] * len(table.columns))
    yield buffer.getvalue()


def _encoded(pieces: Iterator[str]) -> Iterator[bytes]:
    return (piece.encode() for piece in pieces if piece)


def file_names(tables: Iterable[Table], extension: str) -> Iterator[tuple[str, Table]]:
    """Each table with the name of its file in a zip: its name made safe, unique without regard to
    case (`a.csv`, `a-2.csv`)."""
    used: set[str] = set()
    for table in tables:
        stem = _UNSAFE_FILE_NAME.sub("_", table.name).strip("._") or "table"
        name, counter = f"{stem}.{extension}", 1
        while name.lower() in used:
            counter += 1
            name = f"{stem}-{counter}.{extension}"
        used.add(name.lower())
        yield name, table
