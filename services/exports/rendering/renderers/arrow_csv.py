"""Typed Arrow data for the writers that want it (parquet, jsonl): a table's schema from the types
its source defines, and CSV as PostgreSQL's COPY writes it parsed by pyarrow in C into that schema.

pyarrow is imported by the first call, never at import time (see parquet.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from services.exports.rendering.renderers.model import ColumnType, Table

# How much CSV each record batch holds (the memory the parse needs at once).
CSV_BLOCK_BYTES = 1024 * 1024


def arrow_schema(table: Table, metadata: dict[str, str] | None = None, *, times_as_text: bool = False) -> Any:
    """The table's columns with the Arrow types of the types its source defines; `times_as_text`
    keeps times as the RFC 3339 text COPY wrote (what a text format writes anyway)."""
    import pyarrow as pa

    if table.types is None or len(table.types) != len(table.columns):
        raise ValueError(f"table {table.name!r} has no column types: typed formats need them")
    return pa.schema(
        [
            pa.field(name, pa.string() if times_as_text and kind == "timestamp" else arrow_type(pa, kind))
            for name, kind in zip(table.columns, table.types, strict=True)
        ],
        metadata=metadata or None,
    )


def csv_batches(schema: Any, chunks: Iterable[bytes]) -> Iterator[Any]:
    """CSV as written by COPY (a header line; NULL unquoted and empty, an empty text quoted; times
    RFC 3339; true/false) parsed into record batches of the schema's types, CSV_BLOCK_BYTES at a time."""
    import pyarrow.csv as pa_csv

    # A failure of the source (the chunks' iterator raising) comes out of the reader as itself.
    reader = pa_csv.open_csv(
        _ChunkReader(chunks),
        read_options=pa_csv.ReadOptions(
            column_names=schema.names, skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=False
        ),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict(zip(schema.names, schema.types, strict=True)),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["true"],
            false_values=["false"],
        ),
    )
    for batch in reader:
        yield batch.replace_schema_metadata(schema.metadata)


def arrow_type(pa: Any, kind: ColumnType) -> Any:
    match kind:
        case "string":
            return pa.string()
        case "integer":
            return pa.int64()
        case "double":
            return pa.float64()
        case "boolean":
            return pa.bool_()
        case "timestamp":
            return pa.timestamp("us", tz="UTC")
    raise ValueError(f"no Arrow type for a {kind!r} column")


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what pyarrow's CSV reader reads from)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
