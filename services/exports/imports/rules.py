"""What an upload to restore may be: its content type, its first bytes, its size. No I/O."""

from __future__ import annotations

from services.common.errors import InvalidArgument, ResourceExhausted

ZIP, JSON = "application/zip", "application/json"
CONTENT_TYPES = (ZIP, JSON)
# A zip starts with a local file header (or, empty, with the end of the central directory).
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
JSON_MAX_BYTES = 256 * 1024 * 1024  # one prompt session's json export is read whole
JSON_SPACE = b" \t\r\n"  # whitespace around a JSON value (RFC 8259)


class UploadTooLarge(ResourceExhausted):
    default_reason = "IMPORT_TOO_LARGE"

    def __init__(self, limit: int) -> None:
        super().__init__(f"an import may be at most {limit} bytes", metadata={"limit_bytes": str(limit)})


def content_type(value: str) -> str:
    """application/zip or application/json (parameters such as charset ignored)."""
    media = value.split(";", 1)[0].strip().lower()
    if media in ("application/x-zip-compressed", "application/x-zip"):
        media = ZIP
    if media not in CONTENT_TYPES:
        raise InvalidArgument(
            f"Content-Type must be application/zip (a takeout) or application/json (one prompt's json "
            f"export), got {value[:100]!r}",
            field="content_type",
            reason="UNSUPPORTED_MEDIA_TYPE",
        )
    return media


def size_limit(media: str, limit: int) -> int:
    return min(limit, JSON_MAX_BYTES) if media == JSON else limit


def check_size(size: int, *, limit: int) -> None:
    if size > limit:
        raise UploadTooLarge(limit)


def check_ends(media: str, start: bytes, end: bytes) -> None:
    """The first and last bytes fit the content type: a zip's signature; JSON's opening and closing
    braces (a body cut short is refused here; the rest of its syntax is the job's to check, which
    reads it whole)."""
    if media == ZIP and not start.startswith(ZIP_MAGIC):
        raise InvalidArgument(
            "the body is not a zip archive (Content-Type says application/zip)", field="body"
        )
    if media == JSON and not (
        start.lstrip(JSON_SPACE + b"\xef\xbb\xbf").startswith(b"{") and end.rstrip(JSON_SPACE).endswith(b"}")
    ):
        raise InvalidArgument(
            "the body is not a JSON object (Content-Type says application/json)", field="body"
        )
