"""Reading export sources from the prompts and files services over gRPC, as the export's owner.

The exports service calls as itself: each call carries a service token it mints for the user the
export belongs to (`sub`) with itself as the actor (`act`), admin only when that user asked as an
admin, valid a few minutes. No user's bearer token is forwarded or kept, so a job runs however
long it waited, and the called service logs who acted for whom.

Revisions are looked up on the event loop (aio channels, the caller's deadline). The rows and
bytes of a rendering are read inside the render worker thread through sync channels, whose
streams the renderers pull at their own pace (gRPC flow control is the bounded buffer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc

from depot.files.v1 import files_pb2, files_pb2_grpc
from depot.prompts.v1 import dataset_windows_pb2, dataset_windows_pb2_grpc, prompts_pb2, prompts_pb2_grpc
from services.common import errors
from services.common.auth import ServiceTokens
from services.common.channels import ChannelPair, upstream_error
from services.common.timestamps import datetime_of, timestamp
from services.exports.rendering.account import AccountReader
from services.exports.rendering.renderers import Cell, ColumnType, Table
from services.exports.rendering.reports import RenderStats, cell_value, counted
from services.exports.rendering.work import Acting, Resolved
from services.exports.rules import ExportRequest

PROMPTS_SERVICE = "depot.prompts.v1.PromptsService"
FILES_SERVICE = "depot.files.v1.FilesService"
PROMPTS_IDEMPOTENT = (
    "GetPrompt",
    "GetDatasetRevision",
    "StreamDatasetRows",
    "StreamDatasetCsv",
    "StreamDatasets",
    "ListPrompts",
    "ListFeedback",
    "ListSecurityScans",
)
FILES_IDEMPOTENT = ("GetArtifact", "GetChatRevision", "StreamChatFiles", "ListChats", "ListArtifacts")
DATASET_ENUMS = {
    "multi-agent": prompts_pb2.DATASET_MULTI_AGENT,
    "temporal": prompts_pb2.DATASET_TEMPORAL,
    "feedback": prompts_pb2.DATASET_FEEDBACK,
    "effectiveness": prompts_pb2.DATASET_EFFECTIVENESS,
    "fine-tune": prompts_pb2.DATASET_FINE_TUNE,
}
# The type a dataset column's values have, as the renderers name it (parquet writes it).
COLUMN_TYPES: dict[int, ColumnType] = {
    prompts_pb2.COLUMN_TYPE_STRING: "string",
    prompts_pb2.COLUMN_TYPE_INTEGER: "integer",
    prompts_pb2.COLUMN_TYPE_DOUBLE: "double",
    prompts_pb2.COLUMN_TYPE_BOOLEAN: "boolean",
    prompts_pb2.COLUMN_TYPE_TIMESTAMP: "timestamp",
}
CSV_MODES = {"safe": prompts_pb2.CSV_MODE_SAFE, "raw": prompts_pb2.CSV_MODE_RAW}
# How far the prompts service may send a render's stream ahead of this process's reading. gRPC's
# default window (64 KiB, grown by its bandwidth probe, which on a fast local link stays small)
# had it wait for a window update every few frames; side by side, the 1M-version CSV stream alone
# took a median 10.2 s with it and 8.5 s with 4 MiB, which is also what one stream may buffer here.
STREAM_WINDOW_OPTIONS = [("grpc.http2.lookahead_bytes", 4 * 1024 * 1024)]


def _now() -> datetime:
    return datetime.now(UTC)


class Sources:
    """Channels to the prompts and files services, and the reads an export needs."""

    def __init__(
        self,
        *,
        prompts_address: str,
        files_address: str,
        max_message_bytes: int,
        stream_timeout: float,
        tokens: ServiceTokens,
    ) -> None:
        self._timeout = stream_timeout
        self._tokens = tokens
        self._channels = [
            ChannelPair.to(
                prompts_address,
                service=PROMPTS_SERVICE,
                idempotent_methods=PROMPTS_IDEMPOTENT,
                max_message_bytes=max_message_bytes,
                sync_options=STREAM_WINDOW_OPTIONS,  # the render threads' streams use the blocking one
            ),
            ChannelPair.to(
                files_address,
                service=FILES_SERVICE,
                idempotent_methods=FILES_IDEMPOTENT,
                max_message_bytes=max_message_bytes,
            ),
        ]
        prompts, files = self._channels
        self._prompts_aio = prompts_pb2_grpc.PromptsServiceStub(prompts.aio)
        self._files_aio = files_pb2_grpc.FilesServiceStub(files.aio)
        self._prompts = prompts_pb2_grpc.PromptsServiceStub(prompts.sync)
        self._files = files_pb2_grpc.FilesServiceStub(files.sync)
        self._windows = dataset_windows_pb2_grpc.DatasetWindowsServiceStub(prompts.sync)

    def _metadata(self, acting: Acting) -> tuple[tuple[str, str], ...]:
        """A fresh service token for one call (or one stream) made for `acting`."""
        token = self._tokens.mint(user_id=acting.user_id, admin=acting.admin)
        return (("authorization", f"Bearer {token}"),)

    async def close(self) -> None:
        for channels in self._channels:
            await channels.close()

    # Revisions, on the event loop -------------------------------------------------------------

    async def resolve(self, request: ExportRequest, *, acting: Acting, timeout: float) -> Resolved:
        """The source's current revision and whose data it is (NotFound when the caller has no such
        source; an admin's export finds any user's)."""
        kind, name = request.source.kind, request.source.name
        service = "files" if kind in ("artifacts", "chats") else "prompts"
        call: dict[str, Any] = {"metadata": self._metadata(acting), "timeout": timeout}
        if kind == "account":  # the takeout: the revision of everything the caller has
            reader = self.account(acting)
            revision = await asyncio.to_thread(reader.revision)
            return Resolved(revision, _now(), data_owner=acting.user_id)
        try:
            if kind == "prompts":
                prompt = (
                    await self._prompts_aio.GetPrompt(prompts_pb2.GetPromptRequest(id=name), **call)
                ).prompt
                return Resolved(str(prompt.revision), _now(), prompt, data_owner=prompt.owner)
            if kind == "datasets":
                all_users = bool(request.options.get("all_users"))
                reply = await self._prompts_aio.GetDatasetRevision(
                    prompts_pb2.GetDatasetRevisionRequest(all_users=all_users), **call
                )
                return Resolved(reply.revision, _now(), data_owner="" if all_users else acting.user_id)
            if kind == "artifacts":
                artifact = (
                    await self._files_aio.GetArtifact(files_pb2.GetArtifactRequest(id=name), **call)
                ).artifact
                return Resolved(
                    str(artifact.revision),
                    _now(),
                    artifact,
                    rows=artifact.row_count,
                    data_owner=artifact.owner,
                )
            owner = str(request.options.get("owner") or acting.user_id)
            chat = await self._files_aio.GetChatRevision(
                files_pb2.GetChatRevisionRequest(chat_id=name, owner=owner), **call
            )
            return Resolved(str(chat.revision), _now(), data_owner=owner)
        except grpc.aio.AioRpcError as exc:
            raise upstream_error(exc, service) from None

    def account(self, acting: Acting) -> AccountReader:
        """Reads of `acting`'s whole account (a takeout), over the sync channels."""
        return AccountReader(
            prompts=self._prompts,
            files=self._files,
            metadata=lambda: self._metadata(acting),
            timeout=self._timeout,
        )

    # Rows and bytes, in the render thread -----------------------------------------------------

    def dataset_tables(
        self,
        names: Sequence[str],
        *,
        all_users: bool,
        acting: Acting,
        stats: RenderStats,
        fine_tune: prompts_pb2.FineTuneOptions | None = None,
        window: Window | None = None,
    ) -> list[Table]:
        """Datasets as tables whose rows stream from the prompts service, all read in ONE snapshot
        (one stream, one repeatable-read transaction): consume them in order. Each column has the
        type the dataset defines; `fine_tune` chooses the fine-tune dataset's rows."""
        rows = prompts_pb2.DATASET_ENCODING_ROWS
        datasets = self._datasets(
            names,
            rows,
            "safe",
            all_users=all_users,
            acting=acting,
            stats=stats,
            fine_tune=fine_tune,
            window=window,
        )
        return [
            Table(name, columns, counted(_dataset_rows(parts), stats), [COLUMN_TYPES[t] for t in types])
            for name, columns, types, parts in datasets
        ]

    def dataset_csvs(
        self,
        names: Sequence[str],
        *,
        all_users: bool,
        csv_mode: str,
        acting: Acting,
        stats: RenderStats,
        window: Window | None = None,
    ) -> list[tuple[str, Iterator[bytes]]]:
        """Datasets as CSV bytes formatted by PostgreSQL and passed through untouched (the fast path),
        all read in ONE snapshot: consume them in order."""
        csv = prompts_pb2.DATASET_ENCODING_CSV
        datasets = self._datasets(
            names, csv, csv_mode, all_users=all_users, acting=acting, stats=stats, window=window
        )
        return [(name, _csv_chunks(parts, stats)) for name, _, _, parts in datasets]

    def dataset_csv_tables(
        self,
        names: Sequence[str],
        *,
        all_users: bool,
        acting: Acting,
        stats: RenderStats,
        window: Window | None = None,
    ) -> list[Table]:
        """Datasets as tables of raw CSV formatted by PostgreSQL, each column with its type, for the
        writers that parse CSV in C (parquet, jsonl); all read in ONE snapshot: consume them in order."""
        csv = prompts_pb2.DATASET_ENCODING_CSV
        datasets = self._datasets(
            names, csv, "raw", all_users=all_users, acting=acting, stats=stats, window=window
        )
        return [
            Table(name, columns, (), [COLUMN_TYPES[t] for t in types], csv=_csv_chunks(parts, stats))
            for name, columns, types, parts in datasets
        ]

    def _datasets(
        self,
        names: Sequence[str],
        encoding: prompts_pb2.DatasetEncoding.ValueType,
        csv_mode: str,
        *,
        all_users: bool,
        acting: Acting,
        stats: RenderStats,
        fine_tune: prompts_pb2.FineTuneOptions | None = None,
        window: Window | None = None,
    ) -> list[tuple[str, list[str], list[int], Iterator[Any]]]:
        """(name, columns, column types, messages) of each dataset of one StreamDatasets call; with
        a `window`, only the rows changed within it (an incremental scheduled run)."""
        request = prompts_pb2.StreamDatasetsRequest(
            datasets=[DATASET_ENUMS[name] for name in names],
            all_users=all_users,
            encoding=encoding,
            csv_mode=CSV_MODES[csv_mode],
            fine_tune=fine_tune,
        )
        if window is None:
            responses = self._prompts.StreamDatasets(
                request, metadata=self._metadata(acting), timeout=self._timeout
            )
        else:
            responses = _WindowParts(
                self._windows.StreamDatasetWindow(
                    _window_request(request, window), metadata=self._metadata(acting), timeout=self._timeout
                )
            )
        header = _first(responses, "prompts").header
        stats.saw_snapshot(datetime_of(header.snapshot_time), header.revision)
        parts = _DatasetParts(responses, [d.dataset for d in header.datasets])
        return [
            (name, list(d.columns), list(d.types), parts.of(d.dataset))
            for name, d in zip(names, header.datasets, strict=True)
        ]

    def chat_files(
        self, chat_id: str, *, owner: str, acting: Acting, stats: RenderStats
    ) -> Iterator[tuple[str, Iterator[bytes]]]:
        """(filename, chunks) of every file of `owner`'s chat, read in one snapshot of the files service."""
        request = files_pb2.StreamChatFilesRequest(chat_id=chat_id, owner=owner)
        responses = self._files.StreamChatFiles(
            request, metadata=self._metadata(acting), timeout=self._timeout
        )
        header = _first(responses, "files").header
        stats.saw_snapshot(datetime_of(header.snapshot_time), str(header.revision))
        return _ChatEntries(responses, stats).entries()


Window = tuple[datetime, datetime]


def _window_request(request: prompts_pb2.StreamDatasetsRequest, window: Window) -> Any:
    message = dataset_windows_pb2.StreamDatasetWindowRequest(datasets=request)
    message.changed_since.CopyFrom(timestamp(window[0]))
    message.changed_before.CopyFrom(timestamp(window[1]))
    return message


class _WindowParts:
    """A StreamDatasetWindow stream read as the StreamDatasets stream each message wraps."""

    def __init__(self, responses: Any) -> None:
        self._responses = responses

    def __iter__(self) -> _WindowParts:
        return self

    def __next__(self) -> Any:
        return next(self._responses).part

    def cancel(self) -> None:
        self._responses.cancel()


def _first(responses: Any, service: str) -> Any:
    try:
        return next(responses)
    except grpc.RpcError as exc:
        raise upstream_error(exc, service) from None
    except StopIteration:
        raise errors.DepotError(f"the {service} service sent an empty stream") from None


def _guarded(responses: Any, service: str) -> Iterator[Any]:
    """The rest of a stream, with failures as DepotErrors; the call is cancelled if abandoned."""
    try:
        yield from responses
    except grpc.RpcError as exc:
        raise upstream_error(exc, service) from None
    finally:
        responses.cancel()


class _DatasetParts:
    """Splits one StreamDatasets stream into each dataset's messages. The datasets come one after
    the other, so each is read in turn: the first message of the next one ends the current one."""

    def __init__(self, responses: Any, order: list[int]) -> None:
        self._messages = _guarded(responses, "prompts")
        self._position = {dataset: index for index, dataset in enumerate(order)}
        self._pending: Any = None

    def of(self, dataset: int) -> Iterator[Any]:
        position = self._position[dataset]
        while True:
            message = self._pending if self._pending is not None else next(self._messages, None)
            self._pending = None
            if message is None:
                return
            if self._position.get(message.dataset, -1) > position:
                self._pending = message  # the next dataset's: keep it for its reader
                return
            if message.dataset == dataset:
                yield message
            # else: an earlier dataset's part nobody read (its table was skipped)


def _dataset_rows(messages: Iterator[Any]) -> Iterator[list[Cell]]:
    for message in messages:
        for row in message.rows.rows:
            yield [cell_value(cell) for cell in row.cells]


def _csv_chunks(messages: Iterator[Any], stats: RenderStats) -> Iterator[bytes]:
    counter = CsvLineCounter()
    rows_before = stats.row_count  # `datasets/all` counts several CSVs into one figure
    for message in messages:
        chunk = message.chunk
        counter.feed(chunk)
        stats.row_count = rows_before + max(counter.newlines - 1, 0)  # progress: complete lines so far
        yield chunk
    stats.row_count = rows_before + max(counter.records - 1, 0)  # the first record is the header line


_NOT_QUOTE_OR_NEWLINE = bytes(b for b in range(256) if b not in b'"\n')


class CsvLineCounter:
    """Counts CSV records in a byte stream: newlines outside quoted fields (RFC 4180 quoting).

    Only quotes and newlines matter, so each chunk is first reduced to those (at C speed); a
    `""` pair flips the quoting twice, so pairs are dropped too. What is left has no quote at
    all unless a field holds a newline, and then it is tiny: parity is counted on that.
    """

    def __init__(self) -> None:
        self.newlines = 0
        self.quoted = False
        self.ends_with_newline = True

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        marks = chunk.translate(None, _NOT_QUOTE_OR_NEWLINE).replace(b'""', b"")
        if b'"' not in marks:
            if not self.quoted:
                self.newlines += len(marks)
        else:
            parts = marks.split(b'"')
            for part in parts[1 if self.quoted else 0 :: 2]:
                self.newlines += len(part)
            if len(parts) % 2 == 0:
                self.quoted = not self.quoted
        self.ends_with_newline = chunk.endswith(b"\n") and not self.quoted

    @property
    def records(self) -> int:
        return self.newlines + (0 if self.ends_with_newline else 1)


class _ChatEntries:
    """Turns the flat chat stream (file, chunks, file, chunks…) into (name, chunks) entries."""

    def __init__(self, responses: Any, stats: RenderStats) -> None:
        self._messages = _guarded(responses, "files")
        self._pending: Any = None
        self._stats = stats

    def entries(self) -> Iterator[tuple[str, Iterator[bytes]]]:
        message = next(self._messages, None)
        while message is not None:
            if message.WhichOneof("part") != "file":
                raise errors.DepotError("the files service sent bytes before naming their file")
            self._stats.row_count += 1
            chunks = self._chunks()
            yield message.file.filename, chunks
            for _ in chunks:  # the consumer normally drains the file; make sure the stream moves on
                pass
            message, self._pending = self._pending, None

    def _chunks(self) -> Iterator[bytes]:
        for message in self._messages:
            if message.WhichOneof("part") != "chunk":
                self._pending = message
                return
            yield message.chunk
