"""Measuring and wrapping text for the PDF, and cutting lines into runs of one font face.

Widths are in 1/1000 em so one measurement serves every font size. ASCII, by far the common
case, takes a fast path through the primary face and reportlab's C string-width routine.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from services.exports.rendering.renderers.cells import printable_text
from services.exports.rendering.renderers.pdf_fonts import PRIMARY, FontChain

_WORD_CACHE_LIMIT = 50_000
TAB = "    "


class TextSetter:
    """Turns cell text into lines that fit a width, and lines into (face index, text) runs."""

    def __init__(self, chain: FontChain) -> None:
        self.chain = chain
        self._primary = chain.primary
        self._space = chain.width(" ")
        self._widest_ascii = max(chain.width(chr(code)) for code in range(32, 127))
        self._word_widths: dict[str, float] = {}

    def clean(self, text: str) -> str:
        """Text as it will be drawn; raises UnsupportedCharacters when no face can draw some of it."""
        if text.isascii() and text.isprintable():
            return text
        text = printable_text(text).replace("\t", TAB)
        return text if text.isascii() else self.chain.prepare(text)

    def lines(self, text: str, width: float, size: float) -> list[str]:
        """`text` (already clean) in lines no wider than `width` points at `size` points."""
        limit = width * 1000 / size
        if "\n" not in text:
            return [text] if self._surely_fits(text, limit) else self._wrap(text, limit)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            if self._surely_fits(paragraph, limit):
                lines.append(paragraph)
            else:
                lines.extend(self._wrap(paragraph, limit))
        return lines

    def _surely_fits(self, text: str, limit: float) -> bool:
        # Short ASCII cannot overflow even in its widest glyphs: skip measuring it at all.
        return len(text) * self._widest_ascii <= limit and text.isascii()

    def measure(self, text: str) -> float:
        """Width of clean text in 1/1000 em."""
        if text.isascii():
            return float(self._primary.stringWidth(text, 1000))
        width = self.chain.width
        return sum(width(char) for char in text)

    def runs(self, line: str) -> list[tuple[int, str]]:
        """The line cut where the drawing face changes."""
        if line.isascii():
            return [(PRIMARY, line)]
        face_of = self.chain.face_of
        runs: list[tuple[int, str]] = []
        start, current = 0, face_of(line[0])
        for position, char in enumerate(line):
            # Spaces too take their own face: widths were measured that way (an emoji space is wide).
            face = face_of(char)
            if face != current:
                runs.append((current, line[start:position]))
                start, current = position, face
        runs.append((current, line[start:]))
        return runs

    def _wrap(self, paragraph: str, limit: float) -> list[str]:
        """Greedy word wrap: prefix sums of word widths, then one bisection per line, both in C."""
        words = paragraph.split(" ")
        widths = list(map(self._word_widths.get, words))
        if None in widths:
            widths = [self._word_width(word) for word in words]
        space = self._space
        # ends[k] = width of words[0..k] with a space after each; a line of words[i..j-1] fits
        # when ends[j-1] - ends[i-1] - space <= limit.
        ends = list(accumulate(width + space for width in widths))  # type: ignore[operator]
        lines: list[str] = []
        first = 0
        while first < len(words):
            before = ends[first - 1] if first else 0.0
            stop = bisect_right(ends, before + limit + space, lo=first)
            if stop == first:  # one word wider than the line (a URL, a CJK sentence): cut it
                lines.extend(self._cut(words[first], limit))
                stop = first + 1
            else:
                lines.append(" ".join(words[first:stop]))
            first = stop
        return lines

    def _cut(self, word: str, limit: float) -> list[str]:
        pieces: list[str] = []
        width_of = self.chain.width
        start, width = 0, 0.0
        for position, char in enumerate(word):
            char_width = width_of(char)
            if width + char_width > limit and position > start:
                pieces.append(word[start:position])
                start, width = position, 0.0
            width += char_width
        pieces.append(word[start:])
        return pieces

    def _word_width(self, word: str) -> float:
        width = self._word_widths.get(word)
        if width is None:
            if len(self._word_widths) >= _WORD_CACHE_LIMIT:
                self._word_widths.clear()
            width = self._word_widths[word] = self.measure(word)
        return width
