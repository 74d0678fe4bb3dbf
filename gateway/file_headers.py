"""HTTP headers of file transfers: Content-Disposition (RFC 6266), entity tags, byte ranges (RFC 9110).

Protocol syntax only; what a range or a precondition means for a file is the files service's rule.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
# A list element: a quoted tag (commas inside it included) with an optional W/, or a bare token.
_ENTITY_TAG_ELEMENT = re.compile(r'(?:[Ww]/)?"[^"]*"|[^,\s]+')
# A byte position past the end of any file there could be, and within the protocol's int64.
BEYOND_ANY_FILE = 10**18
_NOT_TOKEN_SAFE = re.compile(r'[^\x20-\x7e]|["\\%;]')


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266, RFC 8187)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = _NOT_TOKEN_SAFE.sub("_", ascii_name).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def etag(sha256: str) -> str:
    """The strong entity tag of a content: its quoted SHA-256."""
    return f'"{sha256}"'


@dataclass(frozen=True)
class EntityTag:
    """One entity tag of a header: its opaque value (without quotes) and whether it is weak (W/)."""

    value: str
    weak: bool


@dataclass(frozen=True)
class EntityTags:
    """An If-Match / If-None-Match header as sent: "*", or a list of entity tags (maybe empty)."""

    any: bool
    tags: tuple[EntityTag, ...]

    def strong(self) -> list[str]:
        """The values for a strong comparison (If-Match, If-Range): "*", or the strong tags only."""
        return ["*"] if self.any else [t.value for t in self.tags if not t.weak]

    def weak(self) -> list[str]:
        """The values for a weak comparison (If-None-Match): "*", or every tag with W/ ignored."""
        return ["*"] if self.any else [t.value for t in self.tags]


def entity_tags(header: str | None) -> EntityTags | None:
    """The entity tags of a conditional header (RFC 9110 §8.8.3); None when the header is absent.

    Elements are split on commas outside quotes; empty elements are skipped (`,,,` is an empty list,
    which no content matches). An unquoted element is taken as a bare tag, as lenient clients send.
    """
    if header is None:
        return None
    if header.strip() == "*":
        return EntityTags(any=True, tags=())
    tags = []
    for element in _ENTITY_TAG_ELEMENT.findall(header):
        weak = element.startswith(("W/", "w/"))
        opaque = element[2:] if weak else element
        if len(opaque) >= 2 and opaque.startswith('"') and opaque.endswith('"'):
            opaque = opaque[1:-1]
        tags.append(EntityTag(opaque, weak))
    return EntityTags(any=False, tags=tuple(tags))


@dataclass(frozen=True)
class RangeRequest:
    """One `bytes=` range as sent: first-last, first-, or -suffix."""

    start: int | None
    end: int | None
    suffix: int | None


def _position(digits: str) -> int:
    """A byte position from its digits, bounded before any conversion: one of more than 18 digits
    lies past the end of any file, and is held at BEYOND_ANY_FILE (which no int64 overflows)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else BEYOND_ANY_FILE


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
        return RangeRequest(start=None, end=None, suffix=_position(last))
    start, end = _position(first), _position(last) if last else None
    if end is not None and end < start:
        return None
    return RangeRequest(start=start, end=end, suffix=None)


def if_range_tag(header: str | None) -> str | None:
    """The strong entity tag an If-Range header names; "" when it names none (a date, a weak tag), which
    no content matches, so the whole file is served; None when the header is absent."""
    if header is None:
        return None
    tags = entity_tags(header)
    if tags is None or tags.any or len(tags.tags) != 1 or tags.tags[0].weak:
        return ""
    if not header.strip().endswith('"'):
        return ""  # an HTTP-date: we have no Last-Modified validator to compare it with
    return tags.tags[0].value
