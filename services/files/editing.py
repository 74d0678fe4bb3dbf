"""Text replacement in a stored file, planned before it is built and built a window at a time.

The result's size follows from the number of matches alone (each adds len(new) - len(old) bytes),
so an edit whose result would pass the file limit is refused after one counting pass, before any
of it exists. The result is then produced in windows of the original whose output is a few hundred
KiB at most, so the edit holds the original and one window's output, never a second whole copy.

Everything works on the UTF-8 bytes: in valid UTF-8 an encoded text occurs only at character
boundaries, so bytes.count and bytes.replace (greedy, leftmost, non-overlapping, as str's) find
exactly the matches the text would. Every step is a C call over at most one window, so a thread
running an edit hands the interpreter back to the event loop between windows.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass

from services.common.errors import InvalidArgument
from services.files import rules

# Input scanned per step when counting or checking UTF-8.
SCAN_BYTES = 1024 * 1024
# The most output one window of an edit produces (more only when one replacement is longer).
OUTPUT_BYTES = 256 * 1024


@dataclass(frozen=True)
class Plan:
    """An edit worked out before it is built: how many matches it replaces and the result's size."""

    replacements: int
    size: int


def check_utf8(content: bytes | bytearray) -> None:
    """InvalidArgument (NOT_UTF8_TEXT) unless the content is UTF-8; decodes a slice at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    for start in range(0, len(content), SCAN_BYTES):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(view[start : start + SCAN_BYTES], final=start + SCAN_BYTES >= len(content))
        except UnicodeDecodeError as exc:
            raise InvalidArgument(
                f"the file is not UTF-8 text (invalid byte at offset {start - pending + exc.start}), "
                "so it cannot be edited",
                reason="NOT_UTF8_TEXT",
            ) from None


def _windows(content: bytes | bytearray, old: bytes, span: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, matches) of consecutive windows of about `span` bytes that no match straddles.

    A window ends at a point where a greedy left-to-right scan would start afresh, so replacing in
    each window on its own gives the same matches as replacing in the whole. Candidate end `cut`:
    every match starting before it fits in [start, cut + len(old) - 1); if one more match fits there
    than in [start, cut), that one straddles `cut`, and the window ends where it starts instead
    (found by bisection on the count, which grows with the end of the counted span).
    """
    reach = len(old) - 1
    span = max(span, 2 * len(old))
    start = 0
    while start < len(content):
        if start + span >= len(content):
            yield start, len(content), content.count(old, start)
            return
        cut = start + span - reach
        matches = content.count(old, start, cut)
        if content.count(old, start, cut + reach) > matches:
            low, high = cut - reach, cut - 1  # the straddler starts in [low, high]
            while low < high:
                middle = (low + high) // 2
                if content.count(old, start, middle + len(old)) > matches:
                    high = middle
                else:
                    low = middle + 1
            cut = low
        yield start, cut, matches
        start = cut


def plan(content: bytes | bytearray, *, old: bytes, new: bytes, count: int | None, limit: int) -> Plan:
    """Counts the matches (at most `count`) and refuses a result over `limit` before it is built."""
    if not old:
        raise InvalidArgument("old must not be empty", field="old")
    check_utf8(content)
    growth = len(new) - len(old)
    found = 0
    for _, _, matches in _windows(content, old, SCAN_BYTES):
        found += matches
        if count is not None and found >= count:
            found = count
            break
        if growth > 0 and len(content) + found * growth > limit:
            break  # already too large: the rest cannot make it smaller
    if found == 0:
        raise InvalidArgument("old does not occur in the file", reason="TEXT_NOT_FOUND", field="old")
    size = len(content) + found * growth
    if size > limit:
        raise rules.too_large(limit, size)
    return Plan(replacements=found, size=size)


def edited(content: bytes | bytearray, *, old: bytes, new: bytes, replacements: int) -> Iterator[bytes]:
    """The result of replacing the first `replacements` matches, in pieces of about OUTPUT_BYTES."""
    # A window of n input bytes yields at most n * len(new) / len(old) bytes when len(new) > len(old).
    span = OUTPUT_BYTES * len(old) // max(len(old), len(new))
    left = replacements
    for start, end, matches in _windows(content, old, span):
        if left == 0:
            yield from _slices(content, start, len(content))
            return
        yield bytes(content[start:end].replace(old, new, left))
        left -= min(left, matches)


def _slices(content: bytes | bytearray, start: int, end: int) -> Iterator[bytes]:
    for offset in range(start, end, OUTPUT_BYTES):
        yield bytes(content[offset : min(end, offset + OUTPUT_BYTES)])
