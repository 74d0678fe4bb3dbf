"""JSON Lines: one object per row, the table's columns as its keys, streamed.

What pipelines read line by line (`json.loads` per line, `datasets.load_dataset("json", ...)`,
pandas `read_json(lines=True)`): no title and no report fields (the export's receipt carries
those), numbers as numbers, times as RFC 3339 text like every other format, objects as objects.
Several tables are a zip of one `.jsonl` file per table. A dataset comes as PostgreSQL's CSV and
is typed by pyarrow (arrow_csv.py, imported at the first such rendering).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson

from services.exports.rendering.renderers.arrow_csv import arrow_schema, csv_batches
from services.exports.rendering.renderers.cells import rfc3339
from services.exports.rendering.renderers.chunks import byte_chunks
from services.exports.rendering.renderers.csv_zip import one_file_per_table
from services.exports.rendering.renderers.model import Report, Table

# Times go through cells.rfc3339 (six fraction digits always), not orjson's own form.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE


def render_jsonl(report: Report) -> Iterator[bytes]:
    return one_file_per_table(report, "jsonl", jsonl_lines)


def jsonl_lines(table: Table) -> Iterator[bytes]:
    """The table's rows as JSON lines, in chunks of about 64 KiB. A table its source formatted as
    CSV (`table.csv`) is parsed by pyarrow into its columns' types a block at a time, much faster
    than converting typed rows one cell at a time in Python; its times stay the RFC 3339 text
    PostgreSQL wrote (four times faster than datetimes formatted again)."""
    if table.csv is not None:
        records: Iterable[dict[str, Any]] = (
            record
            for batch in csv_batches(arrow_schema(table, times_as_text=True), table.csv)
            for record in batch.to_pylist()
        )
    else:
        columns = table.columns
        records = (dict(zip(columns, row, strict=True)) for row in table.rows)
    dumps = orjson.dumps
    return byte_chunks(dumps(record, default=_time, option=_OPTIONS) for record in records)


def _time(value: object) -> str:
    if isinstance(value, datetime):
        return rfc3339(value)
    raise TypeError(f"a JSON line cannot hold a {type(value).__name__}")
