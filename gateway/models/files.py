"""The files domain's REST bodies: chat files, chats, quotas and table artifacts.

Only shapes and types live here; the limits (name rules, metadata size, table size) are the files
service's, so they are checked once, there, with the same messages for REST and gRPC callers.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field, RootModel

from depot.files.v1 import files_pb2 as pb
from gateway.errors import ApiError
from gateway.models.common import INT32_MAX, Body, Out, Page, rfc3339
from services.common.cells import cell_of, cell_value

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Scalar = str | int | float | bool | None


class FileUpdateIn(Body):
    """Fields present are set: a null description or metadata clears it."""

    description: str | None = None
    metadata: Any = Field(default=None, description="A JSON object, or null to clear it.")


class ReplaceIn(Body):
    old: str = Field(min_length=1, description="The text to find.")
    new: str = Field(description="The text to put in its place; may be empty.")
    count: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Replace the first this many; absent: every occurrence."
    )


def _cell(value: Any, where: str) -> pb.Cell:
    """A JSON scalar as a Cell; integers must fit the protocol's int64."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise ApiError(400, "INVALID_ARGUMENT", f"{where} must be an integer between -2^63 and 2^63-1")
    return cell_of(value, pb.Cell)


class ArtifactIn(Body):
    title: str
    columns: list[str]
    rows: list[list[Scalar]] = Field(default_factory=list)

    def to_proto(self, chat_id: str) -> pb.CreateArtifactRequest:
        rows = [
            pb.Row(cells=[_cell(v, f"rows[{r}][{c}]") for c, v in enumerate(row)])
            for r, row in enumerate(self.rows)
        ]
        return pb.CreateArtifactRequest(chat_id=chat_id, title=self.title, columns=self.columns, rows=rows)


class QuotaIn(Body):
    quota_bytes: int | None = Field(
        ge=0, le=2**63 - 1, description="The user's quota in bytes (0: no limit); null: the deployment's."
    )


class ChatFileOut(Out):
    id: str
    chat_id: str
    filename: str
    file_type: str = Field(
        description="A label: `?file_type=` on upload, else known from the extension (python, markdown, "
        "csv, json, …), else `text` for text/* media and `binary` for any other."
    )
    media_type: str = Field(
        description="Content-Type of the upload; absent or curl's default form type: guessed from the name."
    )
    size_bytes: int
    sha256: str
    description: str | None
    metadata: dict[str, Any] | None
    revision: int
    created_at: str
    updated_at: str

    @staticmethod
    def fields(message: pb.ChatFile) -> dict[str, Any]:
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


class ChatFileList(Page[ChatFileOut]):
    repeated = "files"


class ChatFiles(RootModel[list[ChatFileOut]]):
    """Seed 003: a chat's files as a bare array."""


class ReplaceOut(ChatFileOut):
    replacements: int

    @classmethod
    def from_proto(cls, reply: pb.ReplaceInFileResponse) -> ReplaceOut:
        return cls.model_validate({**ChatFileOut.fields(reply.file), "replacements": reply.replacements})


class ChatOut(Out):
    chat_id: str
    revision: int
    file_count: int
    artifact_count: int
    created_at: str
    updated_at: str

    @staticmethod
    def fields(message: pb.Chat) -> dict[str, Any]:
        return {
            "chat_id": message.chat_id,
            "revision": message.revision,
            "file_count": message.file_count,
            "artifact_count": message.artifact_count,
            "created_at": rfc3339(message.create_time),
            "updated_at": rfc3339(message.update_time),
        }


class ChatList(Page[ChatOut]):
    repeated = "chats"
    used_bytes: int = Field(description="The bytes of all the caller's chat files (artifacts not counted).")
    quota_bytes: int = Field(description="The caller's storage quota in bytes; 0: no limit.")

    @classmethod
    def from_proto(cls, reply: pb.ListChatsResponse) -> ChatList:
        items = [ChatOut.fields(chat) for chat in reply.chats]
        return cls.page(reply, items, used_bytes=reply.used_bytes, quota_bytes=reply.quota_bytes)


class QuotaOut(BaseModel):
    user_id: str
    quota_bytes: int = Field(description="The quota that now applies; 0: no limit.")
    used_bytes: int
    overridden: bool = Field(description="True when the quota is the user's own, not the deployment's.")

    @classmethod
    def from_proto(cls, reply: pb.SetUserQuotaResponse) -> QuotaOut:
        return cls.model_validate(
            {
                "user_id": reply.user_id,
                "quota_bytes": reply.quota_bytes,
                "used_bytes": reply.used_bytes,
                "overridden": reply.overridden,
            }
        )


class ArtifactOut(Out):
    id: str
    chat_id: str
    title: str
    columns: list[str]
    rows: list[list[Scalar]] | None = Field(default=None, description="Absent in lists.")
    row_count: int
    revision: int
    created_at: str

    @staticmethod
    def fields(message: pb.Artifact, *, with_rows: bool = True) -> dict[str, Any]:
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


class ArtifactList(Page[ArtifactOut]):
    @classmethod
    def from_proto(cls, reply: pb.ListArtifactsResponse) -> ArtifactList:
        return cls.page(reply, [ArtifactOut.fields(a, with_rows=False) for a in reply.artifacts])
