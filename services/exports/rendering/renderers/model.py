"""What a renderer is given: a report of header fields and streamed tables.

Every source the exports service renders (a prompt session, a dataset, a table artifact) is
turned into one `Report` first, so each format is written once, not once per source. Rows are
an iterable, typically a generator over a database cursor: renderers consume them once, in
order, and never hold them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# A JSON object or list (a version's explanation) is a cell too: an object where the format has
# objects (json, yaml), its compact JSON text elsewhere.
Cell = str | int | float | bool | None | datetime | dict[str, Any] | list[Any]

CsvMode = Literal["safe", "raw"]
FormatName = Literal["json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx", "jsonl", "parquet"]
# A column's type, as its source defines it (a dataset's columns): parquet writes typed columns.
ColumnType = Literal["string", "integer", "double", "boolean", "timestamp"]


@dataclass
class Table:
    """One named table; `name` becomes a sheet name, a heading or a csv file name in a zip."""

    name: str
    columns: list[str]
    rows: Iterable[Sequence[Cell]]  # streamed: consumed once, never materialised
    # One per column when the source defines them (datasets); None where a format needs none.
    types: Sequence[ColumnType] | None = None
    # The rows as CSV bytes (a header line first, raw text) where the source formatted them already
    # (PostgreSQL's COPY): a writer that parses CSV in C (parquet) reads these instead of `rows`.
    csv: Iterable[bytes] | None = None


@dataclass
class Report:
    """A title, header key/values, then tables in order.

    Every format carries every field: a csv, which holds one table, repeats them as leading
    columns named `<subject>.<key>` on each row.
    """

    title: str
    fields: list[tuple[str, Cell]] = field(default_factory=list)
    # Consumed once, in order. A renderer may take the next Table object before the previous
    # table's rows are exhausted (csv looks at two to choose csv or zip; docx takes them all to
    # lay out the document first), so a table's rows should start their query when iterated.
    tables: Iterable[Table] = field(default_factory=list)
    subject: str = "report"  # what the fields describe: "prompt", "artifact"


@dataclass(frozen=True)
class RenderOptions:
    """Options that change the bytes of a rendering (so they belong in the export's cache key)."""

    csv_mode: CsvMode = "safe"  # "safe" neutralises spreadsheet formulas in csv and xlsx text cells
