"""The figures a benchmark run is held to, collected as the suites measure them and printed as one
table at the end: figure, value, its ratio to the physical limit measured in the same run, the goal,
and whether it is met."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    ratio: str
    goal: str
    met: bool


FIGURES: list[Figure] = []


def record(name: str, *, value: str, ratio: str, goal: str, met: bool) -> None:
    """One figure of the table (printed at once too, so a long run shows progress)."""
    figure = Figure(name, value, ratio, goal, met)
    FIGURES.append(figure)
    print(f"  => {name}: {value} ({ratio}); goal {goal}: {'met' if met else 'NOT met'}", flush=True)


def table(figures: list[Figure]) -> str:
    """A Markdown table of the figures."""
    header = ("figure", "value", "ratio to its limit", "goal", "met")
    rows = [header, *((f.name, f.value, f.ratio, f.goal, "met" if f.met else "NOT met") for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])
