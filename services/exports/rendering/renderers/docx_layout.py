"""Column widths of a DOCX table, sized by content so that words are not split across lines.

Word and LibreOffice break a word only when it is wider than its column, so each column is made
at least as wide as the widest word of its header and of the table's first rows (up to a cap: one
200-character URL does not claim the page). What is left of the page goes to the columns whose
text wraps (a version's text, an explanation) by water-filling, as in the PDF. Widths are measured
with DejaVu Sans, the widest of the fonts a reader shows Calibri (the document's font) with:
Calibri itself and its metric twin Carlito are narrower, so a word that fits here fits there.
"""

from __future__ import annotations

import unicodedata

from services.exports.rendering.renderers.pdf_layout import share_width

# DejaVu Sans advance widths of ' ' … '~' in 1/1000 em, regular and bold.
_ASCII_WIDTHS = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636,
    636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632,
    575, 775, 752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685,
    611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579,
    278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)  # fmt: skip
_BOLD_ASCII_WIDTHS = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696,
    696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683,
    683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771,
    724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665,
    343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
)  # fmt: skip
_BOLD = 1.15  # beyond ASCII, bold is about this much wider
_OTHER_WIDTH = 780  # Latin with accents, Greek, Cyrillic: about an uppercase letter
_WIDE_WIDTH = 1000  # East Asian wide and fullwidth characters (those also break between characters)
_MEASURED_CHARS = 400  # of a line: enough to know it wraps
_LONGEST_WORD_SHARE = 0.4  # of the page: the most one unbreakable word may claim
_SAMPLE_SHARE = 0.9  # a column asks for the width that 90 % of its sampled cells fit in


def text_width(text: str, *, bold: bool = False) -> float:
    """Width of `text` in 1/1000 em."""
    table = _BOLD_ASCII_WIDTHS if bold else _ASCII_WIDTHS
    if text.isascii():
        return float(sum(table[ord(char) - 32] if " " <= char <= "~" else 0 for char in text))
    factor = _BOLD if bold else 1.0
    return sum(_char_width(char, table, factor) for char in text)


def _char_width(char: str, table: tuple[int, ...], factor: float) -> float:
    if " " <= char <= "~":
        return table[ord(char) - 32]
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return _WIDE_WIDTH * factor
    return 0 if unicodedata.category(char) in ("Mn", "Cf", "Cc") else _OTHER_WIDTH * factor


def column_widths(
    columns: list[str],
    samples: list[list[str]],
    *,
    available: float,
    size: float,
    header_size: float,
    padding: float,
) -> list[float]:
    """Widths in points, summing to `available`, of columns whose cells are set at `size` points
    (the bold header at `header_size`) with `padding` points beside the text of each."""
    scale = size / 1000
    cap = available * _LONGEST_WORD_SHARE
    least, wanted = [], []
    for index, column in enumerate(columns):
        texts = [row[index] for row in samples if index < len(row)]
        header = _widest_word(column, bold=True) * header_size / 1000
        words = max((_widest_word(text) for text in texts), default=0.0) * scale
        lines = _share_fitting([_widest_line(text) for text in texts])
        low = min(max(header, words), cap) + padding
        least.append(low)
        wanted.append(max(low, min(lines * scale, available) + padding))
    return _fill(least, wanted, available)


def _fill(least: list[float], wanted: list[float], available: float) -> list[float]:
    """Every column its least width, then the rest of the page to those that want more."""
    floor = sum(least)
    if floor >= available:  # words wider than the page altogether: only the widest columns' break
        return share_width(least, available)
    extra = available - floor
    more = [want - low for want, low in zip(wanted, least, strict=True)]
    if sum(more) <= extra:  # everything fits on one line: spread the spare width evenly
        total = sum(wanted)
        return [want * available / total for want in wanted]
    return [low + given for low, given in zip(least, share_width(more, extra), strict=True)]


def _widest_word(text: str, *, bold: bool = False) -> float:
    return max((text_width(word[:_MEASURED_CHARS], bold=bold) for word in text.split()), default=0.0)


def _widest_line(text: str) -> float:
    return max((text_width(line[:_MEASURED_CHARS]) for line in text.split("\n")), default=0.0)


def _share_fitting(values: list[float]) -> float:
    if not values:
        return 0.0
    values.sort()
    return values[min(len(values) - 1, int(len(values) * _SAMPLE_SHARE))]
