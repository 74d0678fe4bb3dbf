"""Parquet: typed columns, written a row group at a time by pyarrow, so memory stays constant.

The column types come from the source's definition (a dataset names each column's type), never
from the values: a column that happens to hold only nulls, or whole numbers in a double column,
keeps its type. Times are `timestamp[us, UTC]`. The report's fields (source, scope, revision,
snapshot time) go into the file's key-value metadata as `depot.<key>`. Several tables are a zip
of one `.parquet` file per table.

pyarrow costs about 0.2 s and 75 MB to import, so it is imported by the first Parquet rendering,
not when the exports service starts.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from services.exports.rendering.renderers.cells import cell_to_text
from services.exports.rendering.renderers.chunks import CHUNK_SIZE
from services.exports.rendering.renderers.model import Cell, ColumnType, Report, Table
from services.exports.rendering.renderers.table_files import one_file_per_table

# Rows become Arrow arrays BATCH_ROWS at a time (the Python objects held at once); batches are
# written as one row group once it holds ROW_GROUP_ROWS rows or ROW_GROUP_BYTES of Arrow data.
BATCH_ROWS = 2048
CSV_BLOCK_BYTES = 1024 * 1024
ROW_GROUP_ROWS = 128 * 1024
ROW_GROUP_BYTES = 32 * 1024 * 1024
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

    if table.types is None or len(table.types) != len(table.columns):
        raise ValueError(f"table {table.name!r} has no column types: Parquet needs them")
    schema = pa.schema(
        [
            pa.field(name, _arrow_type(pa, kind))
            for name, kind in zip(table.columns, table.types, strict=True)
        ],
        metadata=metadata or None,
    )
    if table.csv is None:
        return _written(pa, schema, _record_batches(pa, schema, table.rows))
    return _written(pa, schema, _csv_batches(schema, table.csv))


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


def _csv_batches(schema: Any, chunks: Iterable[bytes]) -> Iterator[Any]:
    """CSV as written by COPY (a header line; NULL unquoted and empty, an empty text quoted; times
    RFC 3339; true/false) parsed into record batches of the schema's types, CSV_BLOCK_BYTES at a time."""
    import pyarrow.csv as pa_csv

    source = _ChunkReader(chunks)
    try:
        reader = pa_csv.open_csv(
            source,
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
    except Exception:
        if source.error is not None:  # the source's own failure, not pyarrow's account of it
            raise source.error from None
        raise


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


def _arrow_type(pa: Any, kind: ColumnType) -> Any:
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
    raise ValueError(f"no Parquet type for a {kind!r} column")


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


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what pyarrow's CSV reader reads from); keeps
    the iterator's own exception, which pyarrow would report as an I/O error."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                chunk = next(self._chunks, None)
            except BaseException as exc:
                self.error = exc
                raise
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
