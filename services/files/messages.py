"""Conversions between protobuf messages and the rows and inputs of the files domain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from depot.files.v1 import files_pb2 as pb
from services.common.cells import cell_of
from services.common.errors import InvalidArgument
from services.common.timestamps import timestamp
from services.files import cells


def stale_file(row: Any) -> pb.StaleFile:
    return pb.StaleFile(
        owner=row.owner,
        chat_id=row.chat_id,
        filename=row.filename,
        size_bytes=row.size_bytes,
        last_access_time=timestamp(row.last_accessed_at),
    )


def file_message(row: Any) -> pb.ChatFile:
    return pb.ChatFile(
        id=str(row.id),
        owner=row.owner,
        chat_id=row.chat_id,
        filename=row.filename,
        file_type=row.file_type,
        media_type=row.media_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        description=row.description or "",
        metadata_json=json.dumps(row.metadata, ensure_ascii=False) if row.metadata is not None else "",
        revision=row.revision,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def optional(message: Any, field: str) -> Any:
    """The value of a proto3 `optional` field, or None when unset."""
    return getattr(message, field) if message.HasField(field) else None


async def upload_parts(
    requests: AsyncIterator[pb.UploadFileRequest],
) -> tuple[pb.UploadFileHeader, AsyncIterator[bytes]]:
    """Splits an upload stream into its header (the first message) and its chunks."""
    first = await anext(requests, None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidArgument("the first message of an upload must be its header", field="header")

    async def chunks() -> AsyncIterator[bytes]:
        async for request in requests:
            if request.WhichOneof("part") != "chunk":
                raise InvalidArgument("only the first message of an upload may be a header", field="header")
            yield request.chunk

    return first.header, chunks()


def cell(stored: Any) -> pb.Cell:
    """A stored JSON scalar as a Cell; None leaves the oneof unset (null)."""
    return cell_of(cells.stored_value(stored), pb.Cell)


def chat_message(row: Any) -> pb.Chat:
    return pb.Chat(
        chat_id=row.chat_id,
        revision=row.revision,
        file_count=row.file_count,
        artifact_count=row.artifact_count,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def artifact_message(row: Any, *, with_rows: bool) -> pb.Artifact:
    message = pb.Artifact(
        id=str(row.id),
        owner=row.owner,
        chat_id=row.chat_id,
        title=row.title,
        columns=row.columns,
        row_count=row.row_count,
        revision=row.revision,
        create_time=timestamp(row.created_at),
    )
    if with_rows:
        message.rows.extend(pb.Row(cells=[cell(v) for v in r]) for r in row.rows)
    return message
