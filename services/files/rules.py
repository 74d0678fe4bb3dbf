"""Validation rules and limits of the files domain: plain functions, no I/O.

Limits (also in the README): chat ids 1–128 characters of letters, digits, ".", "_", "-";
filenames at most 255 bytes of UTF-8; descriptions 4,096 characters; metadata a JSON object of
at most 16 KiB and 32 levels; artifacts 1–100 columns, 10,000 rows, 32,768 characters per string
cell and 4 MiB in all.
"""

from __future__ import annotations

import json
import math
import mimetypes
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from services.common.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from services.common.json_values import check_json_value
from services.common.limits import MAX_FILE_TYPE_CHARS

# The filename rules live in names.py; the other rules call them from here.
from services.files.names import MAX_FILENAME_BYTES as MAX_FILENAME_BYTES
from services.files.names import check_filename as check_filename

# Content is stored and read in pieces of this size. Smaller pieces cost a query and a
# message more often (256 KiB: the gateway and the service spent ~70 % more CPU per download);
# bigger ones cost memory per transfer and per pooled connection (libpq keeps its input buffer at
# the largest row it has read; 1 MiB pieces put ten concurrent downloads near the 100 MiB budget).
CHUNK_BYTES = 512 * 1024
# A stored piece goes out as several gRPC messages of at most this size: each hop (this service's
# send queue, the gateway's receive side) holds a message or two per stream, so a slow reader costs
# a few of these rather than a few pieces. Measured with 20 slow readers: 512 KiB messages grew the
# gateway and the service by 130 MiB together, 128 KiB ones by 66 MiB, at 78 % of psycopg's read rate.
MESSAGE_BYTES = 128 * 1024
MAX_CHAT_ID_CHARS = 128
MAX_DESCRIPTION_CHARS = 4096
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 32
MAX_MEDIA_TYPE_CHARS = 255

_CHAT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_FILE_TYPE = re.compile(rf"[a-z0-9][a-z0-9_+.-]{{0,{MAX_FILE_TYPE_CHARS - 1}}}")
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=({_TOKEN}|\"[^\"\\\x00-\x1f\x7f]*\"))*")

# file_type and media type by extension; anything else is "text" for text/* media, else "binary".
_TYPES_BY_EXTENSION = {
    ".py": ("python", "text/x-python"),
    ".md": ("markdown", "text/markdown"),
    ".markdown": ("markdown", "text/markdown"),
    ".txt": ("text", "text/plain"),
    ".log": ("text", "text/plain"),
    ".csv": ("csv", "text/csv"),
    ".tsv": ("tsv", "text/tab-separated-values"),
    ".json": ("json", "application/json"),
    ".jsonl": ("jsonl", "application/jsonl"),
    ".yaml": ("yaml", "application/yaml"),
    ".yml": ("yaml", "application/yaml"),
    ".html": ("html", "text/html"),
    ".htm": ("html", "text/html"),
    ".xml": ("xml", "application/xml"),
    ".sql": ("sql", "application/sql"),
    ".js": ("javascript", "text/javascript"),
    ".ts": ("typescript", "text/x-typescript"),
    ".sh": ("shell", "text/x-shellscript"),
    ".toml": ("toml", "application/toml"),
    ".pdf": ("pdf", "application/pdf"),
}
# The interpreter's built-in table only: /etc/mime.types differs from machine to machine.
_BUILT_IN_MEDIA_TYPES = mimetypes.MimeTypes(filenames=())
DEFAULT_MEDIA_TYPE = "application/octet-stream"


def check_chat_id(chat_id: str) -> str:
    """A chat id as given, or InvalidArgument saying why not."""
    if not _CHAT_ID.fullmatch(chat_id):
        raise InvalidArgument(
            f"chat_id must be 1 to {MAX_CHAT_ID_CHARS} letters, digits, '.', '_' or '-', starting with a "
            f"letter, digit or '_'; got {chat_id[:200]!r}",
            reason="INVALID_CHAT_ID",
            field="chat_id",
        )
    return chat_id


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def media_type_for(filename: str, given: str) -> str:
    """The given media type when valid, else one guessed from the filename."""
    if given:
        given = given.strip()
        if len(given) > MAX_MEDIA_TYPE_CHARS or not _MEDIA_TYPE.fullmatch(given):
            raise InvalidArgument(
                f"media_type must look like type/subtype[; parameter=value], got {given[:100]!r}",
                reason="INVALID_MEDIA_TYPE",
                field="media_type",
            )
        return given
    known = _TYPES_BY_EXTENSION.get(_extension(filename))
    if known:
        return known[1]
    guessed, _ = _BUILT_IN_MEDIA_TYPES.guess_type(filename, strict=False)
    return guessed or DEFAULT_MEDIA_TYPE


def file_type_for(filename: str, media_type: str, given: str) -> str:
    """The given file type (lower-cased) when valid, else one inferred from the name and media type."""
    if given:
        value = given.strip().lower()
        if not _FILE_TYPE.fullmatch(value):
            raise InvalidArgument(
                f"file_type must be 1 to {MAX_FILE_TYPE_CHARS} of a-z, 0-9, '_', '+', '.', '-', got {given[:100]!r}",
                reason="INVALID_FILE_TYPE",
                field="file_type",
            )
        return value
    known = _TYPES_BY_EXTENSION.get(_extension(filename))
    if known:
        return known[0]
    return "text" if media_type.startswith("text/") else "binary"


def check_description(description: str) -> str | None:
    """A description to store; empty means none."""
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidArgument(
            f"description must be at most {MAX_DESCRIPTION_CHARS} characters, got {len(description)}",
            reason="DESCRIPTION_TOO_LONG",
            field="description",
        )
    if "\x00" in description:
        raise InvalidArgument("description must not contain NUL characters", field="description")
    return description or None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_metadata(text: str) -> dict[str, Any] | None:
    """Metadata from JSON text: an object, or None for empty text or `null`."""

    def bad(message: str, reason: str) -> InvalidArgument:
        return InvalidArgument(f"metadata {message}", reason=reason, field="metadata")

    size = len(text.encode())
    if size > MAX_METADATA_BYTES:
        raise bad(f"must be at most {MAX_METADATA_BYTES} bytes of JSON, got {size}", "METADATA_TOO_LARGE")
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise bad(f"is not valid JSON: {exc}", "METADATA_NOT_JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(f"must be a JSON object, got {type(value).__name__}", "METADATA_NOT_OBJECT")
    # Depth, NUL characters (which jsonb cannot hold), finite numbers (1e400 parses as infinity),
    # integers a double holds exactly: the one check of every free-form JSON value.
    check_json_value(value, field="metadata", max_depth=MAX_METADATA_DEPTH, reason_prefix="METADATA")
    return value


def too_large(limit: int, got: int | None = None) -> ResourceExhausted:
    detail = f", got {got}" if got is not None else ""
    return ResourceExhausted(f"a file must be at most {limit} bytes{detail}", reason="FILE_TOO_LARGE")


def check_preconditions(
    current_sha256: str | None, *, if_match: Sequence[str], if_none_match: Sequence[str]
) -> None:
    """HTTP-style conditions on the current content, each a list of sha256 or "*" (RFC 9110 §13.1).

    If-Match holds when the file exists and its sha256 is listed (or "*" is); If-None-Match holds
    when the file does not exist, or exists and its sha256 is not listed (and "*" is not).
    """
    if if_match:
        if current_sha256 is None:
            raise FailedPrecondition("the file does not exist, so no ETag matches", reason="ETAG_MISMATCH")
        if "*" not in if_match and current_sha256 not in if_match:
            raise FailedPrecondition(
                f'the file\'s ETag is "{current_sha256}", not one of the If-Match values',
                reason="ETAG_MISMATCH",
            )
    if current_sha256 is None or not if_none_match:
        return
    if "*" in if_none_match:
        raise FailedPrecondition("the file already exists", reason="FILE_EXISTS")
    if current_sha256 in if_none_match:
        raise FailedPrecondition(
            f'the file\'s ETag is "{current_sha256}", one of the If-None-Match values', reason="ETAG_MATCHES"
        )


@dataclass(frozen=True)
class ByteRange:
    """The bytes to serve: [offset, offset + length); partial when a range was asked for."""

    offset: int
    length: int
    partial: bool


def resolve_range(
    size: int,
    *,
    start: int | None,
    end: int | None,
    suffix: int | None,
    if_range: str | None = None,
    sha256: str = "",
) -> ByteRange | None:
    """The range to serve (RFC 9110 byte ranges); None when the requested range lies outside the file.

    With `if_range` the range holds only while the content is that one (its sha256); for other
    content the whole file is served (RFC 9110 §13.1.5), so a resumed download never splices two.
    """
    if if_range is not None and if_range != sha256:
        start = end = suffix = None
    for name, value in (("range_start", start), ("range_end", end), ("range_suffix_length", suffix)):
        if value is not None and value < 0:
            raise InvalidArgument(f"{name} must not be negative, got {value}", field=name)
    if suffix is not None:
        if start is not None or end is not None:
            raise InvalidArgument("give range_suffix_length or range_start, not both", field="range_start")
        if suffix == 0 or size == 0:
            return None
        length = min(suffix, size)
        return ByteRange(offset=size - length, length=length, partial=True)
    if start is None:
        if end is not None:
            raise InvalidArgument("range_end needs range_start", field="range_end")
        return ByteRange(offset=0, length=size, partial=False)
    if end is not None and end < start:
        raise InvalidArgument(f"range_end {end} is before range_start {start}", field="range_end")
    if start >= size:
        return None
    last = size - 1 if end is None else min(end, size - 1)
    return ByteRange(offset=start, length=last - start + 1, partial=True)


def message_slices(piece: bytes) -> Iterator[bytes]:
    """A stored piece cut into messages of at most MESSAGE_BYTES."""
    if len(piece) <= MESSAGE_BYTES:
        yield piece
        return
    view = memoryview(piece)
    for start in range(0, len(piece), MESSAGE_BYTES):
        yield bytes(view[start : start + MESSAGE_BYTES])


def chunk_plan(offset: int, length: int, chunk_bytes: int) -> list[tuple[int, int, int]]:
    """The stored pieces covering [offset, offset + length): (seq, start within the piece, length)."""
    plan = []
    position, end = offset, offset + length
    while position < end:
        seq, start = divmod(position, chunk_bytes)
        take = min(chunk_bytes - start, end - position)
        plan.append((seq, start, take))
        position += take
    return plan


def check_replacement(old_text: str, count: int | None) -> None:
    if not old_text:
        raise InvalidArgument("old must not be empty", field="old")
    if count is not None and count < 1:
        raise InvalidArgument(
            f"count must be at least 1 (or absent for every occurrence), got {count}", field="count"
        )


MAX_TITLE_CHARS = 255
MAX_COLUMNS = 100
MAX_COLUMN_NAME_CHARS = 255
MAX_ROWS = 10_000
MAX_CELL_CHARS = 32_768
MAX_ARTIFACT_BYTES = 4 * 1024 * 1024

Cell = str | int | float | bool | None


def _check_string(value: str, field: str, *, limit: int, required: bool) -> None:
    if required and not value.strip():
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise InvalidArgument(f"{field} must be at most {limit} characters, got {len(value)}", field=field)
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)


def check_artifact(*, title: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    """The documented limits of a table artifact; every row has one cell per column."""
    _check_string(title, "title", limit=MAX_TITLE_CHARS, required=True)
    if not 1 <= len(columns) <= MAX_COLUMNS:
        raise InvalidArgument(
            f"columns must hold 1 to {MAX_COLUMNS} names, got {len(columns)}",
            reason="TOO_MANY_COLUMNS" if columns else "INVALID_ARGUMENT",
            field="columns",
        )
    for index, name in enumerate(columns):
        _check_string(name, f"columns[{index}]", limit=MAX_COLUMN_NAME_CHARS, required=True)
    if len(set(columns)) != len(columns):
        raise InvalidArgument("columns must be unique", field="columns")
    if len(rows) > MAX_ROWS:
        raise InvalidArgument(
            f"rows must hold at most {MAX_ROWS} rows, got {len(rows)}", reason="TOO_MANY_ROWS", field="rows"
        )
    total = 0
    for r, row in enumerate(rows):
        if len(row) != len(columns):
            raise InvalidArgument(
                f"rows[{r}] must have {len(columns)} cells (one per column), got {len(row)}",
                field=f"rows[{r}]",
            )
        for c, cell in enumerate(row):
            # The total counts what a cell takes in a protobuf message (string bytes plus framing, or
            # 12 bytes), so an artifact at the limit always fits a gRPC message with room to spare.
            if isinstance(cell, str):
                _check_string(cell, f"rows[{r}][{c}]", limit=MAX_CELL_CHARS, required=False)
                total += len(cell.encode()) + 6
            elif isinstance(cell, float) and not math.isfinite(cell):
                raise InvalidArgument(f"rows[{r}][{c}] must be a finite number", field=f"rows[{r}][{c}]")
            else:
                total += 12
        if total > MAX_ARTIFACT_BYTES:
            raise ResourceExhausted(
                f"an artifact must be at most {MAX_ARTIFACT_BYTES} bytes", reason="TOO_LARGE", field="rows"
            )
