"""HTTP headers of file transfers: Content-Disposition (RFC 6266), entity tags, byte ranges (RFC 9110).

Protocol syntax only; what a range or a precondition means for a file is the files service's rule.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_NOT_TOKEN_SAFE = re.compile(r'[^\x20-\x7e]|["\\%;]')


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266, RFC 8187)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = _NOT_TOKEN_SAFE.sub("_", ascii_name).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def etag(sha256: str) -> str:
    """The strong entity tag of a content: its quoted SHA-256."""
    return f'"{sha256}"'


def entity_tags(header: str | None) -> list[str]:
    """The values of an If-Match / If-None-Match header: ["*"], or the tags without quotes.

    Weak tags (W/"…") keep their prefix, so they never equal a content's SHA-256: If-Match uses
    the strong comparison.
    """
    if header is None or not header.strip():
        return []
    if header.strip() == "*":
        return ["*"]
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith('"') and tag.endswith('"') and len(tag) >= 2:
            tag = tag[1:-1]
        if tag:
            tags.append(tag)
    return tags


@dataclass(frozen=True)
class RangeRequest:
    """One `bytes=` range as sent: first-last, first-, or -suffix."""

    start: int | None
    end: int | None
    suffix: int | None


def byte_range(header: str | None) -> RangeRequest | None:
    """A single well-formed byte range; anything else (several ranges, bad syntax) is ignored, as RFC 9110 allows."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        return RangeRequest(start=None, end=None, suffix=int(last))
    start, end = int(first), int(last) if last else None
    if end is not None and end < start:
        return None
    return RangeRequest(start=start, end=end, suffix=None)
