"""Parquet: typed columns, written a row group at a time by pyarrow, so memory stays constant.

The column types come from the source's definition (a dataset names each column's type), never
from the values: a column that happens to hold only nulls, or whole numbers in a double column,
keeps its type. Times are `timestamp[us, UTC]`. The report's fields (source, scope, revision,
snapshot time) go into the file's key-value metadata as `depot.<key>`. Several tables are a zip
of one `.parquet` file per table.

pyarrow costs about 0.2 s and 75 MB to import, so it is imported by the first rendering that needs
it (parquet, or a dataset's jsonl), not when the exports service starts.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

from services.exports.rendering.renderers.arrow_csv import arrow_schema, csv_batches
from services.exports.rendering.renderers.cells import cell_to_text
from services.exports.rendering.renderers.chunks import CHUNK_SIZE
from services.exports.rendering.renderers.csv_zip import one_file_per_table
from services.exports.rendering.renderers.model import Cell, Report, Table

# Rows become Arrow arrays BATCH_ROWS at a time (the Python objects held at once); batches are
# written as one row group once it holds ROW_GROUP_ROWS rows or ROW_GROUP_BYTES of Arrow data.
BATCH_ROWS = 2048
ROW_GROUP_ROWS = 128 * 1024
ROW_GROUP_BYTES = 16 * 1024 * 1024
COMPRESSION = "zstd"


def render_parquet(report: Report) -> Iterator[bytes]:
    metadata = {f"depot.{key}": cell_to_text(value) for key, value in report.fields}
    return one_file_per_table(report, "parquet", lambda table: parquet_file(table, metadata))


def parquet_file(table: Table, metadata: dict[str, str] | None = None) -> Iterator[bytes]:
    """One table as a Parquet file, streamed: a row group's bytes go out as soon as it is written.

    A table whose source formatted it as CSV already (`table.csv`, PostgreSQL's COPY) is parsed by
    pyarrow's CSV reader in C, a block at a time, into the columns' types; other tables' rows are
    converted BATCH_ROWS at a time.
    """
    import pyarrow as pa  # lazily: see the module docstring

    schema = arrow_schema(table, metadata)
    if table.csv is None:
        return _written(pa, schema, _record_batches(pa, schema, table.rows))
    return _written(pa, schema, csv_batches(schema, table.csv))


def _written(pa: Any, schema: Any, batches: Iterator[Any]) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    sink = _Sink()
    with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression=COMPRESSION) as writer:
        held: list[Any] = []
        held_rows = held_bytes = 0
        for batch in batches:
            held.append(batch)
            held_rows += batch.num_rows
            held_bytes += batch.nbytes
            if held_rows >= ROW_GROUP_ROWS or held_bytes >= ROW_GROUP_BYTES:
                writer.write_table(pa.Table.from_batches(held, schema), row_group_size=held_rows)
                held, held_rows, held_bytes = [], 0, 0
                if sink.size >= CHUNK_SIZE:
                    yield sink.take()
        if held:
            writer.write_table(pa.Table.from_batches(held, schema), row_group_size=held_rows)
    yield sink.take()


def _record_batches(pa: Any, schema: Any, rows: Any) -> Iterator[Any]:
    """Rows as Arrow record batches of BATCH_ROWS rows: each column converted by pyarrow in C."""
    types = schema.types
    pending: list[Sequence[Cell]] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= BATCH_ROWS:
            yield _batch(pa, schema, types, pending)
            pending = []
    if pending:
        yield _batch(pa, schema, types, pending)


def _batch(pa: Any, schema: Any, types: Any, rows: list[Sequence[Cell]]) -> Any:
    columns = zip(*rows, strict=True)  # transposed in C
    arrays = [pa.array(values, type=kind) for values, kind in zip(columns, types, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _Sink(io.RawIOBase):
    """Collects what the Parquet writer writes until the generator hands it on; counts its position
    (the writer asks where it is to record offsets, and never seeks)."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self.size = 0
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self.size += len(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data
