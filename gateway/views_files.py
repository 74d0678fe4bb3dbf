"""Protobuf messages of the files service as the JSON the REST surface returns, and JSON cells as protos."""

from __future__ import annotations

from typing import Any

import orjson

from depot.files.v1 import files_pb2 as pb
from gateway.errors import ApiError
from gateway.views import rfc3339

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def chat_file(message: pb.ChatFile) -> dict[str, Any]:
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "filename": message.filename,
        "file_type": message.file_type,
        "media_type": message.media_type,
        "size_bytes": message.size_bytes,
        "sha256": message.sha256,
        "description": message.description or None,
        "metadata": orjson.loads(message.metadata_json) if message.metadata_json else None,
        "revision": message.revision,
        "created_at": rfc3339(message.create_time),
        "updated_at": rfc3339(message.update_time),
    }


def chat(message: pb.Chat) -> dict[str, Any]:
    return {
        "chat_id": message.chat_id,
        "revision": message.revision,
        "file_count": message.file_count,
        "artifact_count": message.artifact_count,
        "created_at": rfc3339(message.create_time),
        "updated_at": rfc3339(message.update_time),
    }


def cell_value(cell: pb.Cell) -> Any:
    kind = cell.WhichOneof("kind")
    return None if kind is None else getattr(cell, kind)


def artifact(message: pb.Artifact, *, with_rows: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": message.id,
        "chat_id": message.chat_id,
        "title": message.title,
        "columns": list(message.columns),
        "row_count": message.row_count,
        "revision": message.revision,
        "created_at": rfc3339(message.create_time),
    }
    if with_rows:
        view["rows"] = [[cell_value(c) for c in row.cells] for row in message.rows]
    return view


def cell(value: Any, where: str) -> pb.Cell:
    """A JSON scalar as a Cell; integers must fit the protocol's int64."""
    if value is None:
        return pb.Cell()
    if isinstance(value, bool):
        return pb.Cell(bool_value=value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ApiError(400, "INVALID_ARGUMENT", f"{where} must be an integer between -2^63 and 2^63-1")
        return pb.Cell(int_value=value)
    if isinstance(value, float):
        return pb.Cell(double_value=value)
    return pb.Cell(string_value=value)


def rows(values: list[list[Any]]) -> list[pb.Row]:
    return [
        pb.Row(cells=[cell(v, f"rows[{r}][{c}]") for c, v in enumerate(row)]) for r, row in enumerate(values)
    ]
