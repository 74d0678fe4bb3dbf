"""Column widths for a PDF table, planned from its header and its first rows."""

from __future__ import annotations

from services.exports.rendering.renderers.pdf_text import TextSetter


def fit_widths(
    setter: TextSetter,
    columns: list[str],
    samples: list[list[str]],
    *,
    available: float,
    size: float,
    padding: float,
) -> list[float]:
    """Widths summing to `available`: narrow columns get what they need, wide ones share the rest."""
    scale = size / 1000
    wanted = []
    for index, column in enumerate(columns):
        # A header word should not break.
        header = max((setter.measure(word) for word in column.split()), default=0.0) * scale
        texts = [row[index] for row in samples if index < len(row)]
        # Content asks for the width that 90 % of the sampled cells fit in: "false" does not wrap
        # because most cells say "true", and one huge cell does not claim the page.
        content = min(_percentile([_widest_line(setter, text) * scale for text in texts], 0.9), available)
        wanted.append(max(header, content, 12.0) + 2 * padding)
    return share_width(wanted, available)


def share_width(wanted: list[float], available: float) -> list[float]:
    """Water-filling: columns wanting less than an equal share keep their width; the rest split what remains."""
    total = sum(wanted)
    if total <= available:
        return [width * available / total for width in wanted]
    widths = [0.0] * len(wanted)
    remaining = available
    order = sorted(range(len(wanted)), key=wanted.__getitem__)
    for position, index in enumerate(order):
        widths[index] = min(wanted[index], remaining / (len(wanted) - position))
        remaining -= widths[index]
    return widths


def _widest_line(setter: TextSetter, text: str) -> float:
    return max(setter.measure(line[:400]) for line in text.split("\n"))


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    values.sort()
    return values[min(len(values) - 1, int(len(values) * share))]
