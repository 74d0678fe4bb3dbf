"""The exports domain's REST bodies: exports, receipts, share links, statistics, and the seed shapes."""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf import struct_pb2
from pydantic import BaseModel, ConfigDict, Field

from depot.exports.v1 import exports_pb2 as pb
from depot.prompts.v1 import prompts_pb2 as prompts_pb
from gateway.models.common import Choices, JsonObject, Out, Page, optional_time, rfc3339
from services.common.json_values import struct_dict
from services.common.limits import (
    MAX_NAME_CHARS,
    MAX_SOURCE_CHARS,
    SHARE_LINK_DEFAULT_SECONDS,
    SHARE_LINK_MAX_SECONDS,
)

STATES = Choices(pb.ExportState, "EXPORT_STATE_")
State = STATES.type
RUNNING = (pb.EXPORT_STATE_QUEUED, pb.EXPORT_STATE_PROCESSING)
# Documented from the protos, the one source of these values; the exports service checks requests.
DATASETS = [*Choices(prompts_pb.Dataset, "DATASET_").numbers, "all"]
CSV_MODES = Choices(prompts_pb.CsvMode, "CSV_MODE_")
CsvMode = CSV_MODES.type
EXPORT_OPTIONS = {
    "type": "object",
    "properties": {
        "include_workflow": {
            "type": "boolean",
            "default": True,
            "description": "prompts/{id}: every version (true) or the best head alone (false).",
        },
        "csv_mode": {
            "type": "string",
            "enum": list(CSV_MODES.numbers),
            "default": "safe",
            "description": "csv and xlsx: `safe` neutralises cells a spreadsheet would run as formulas; "
            "`raw` writes them as they are.",
        },
        "all_users": {
            "type": "boolean",
            "default": False,
            "description": "datasets/*: every user's rows; an admin only (403 for others).",
        },
        "owner": {
            "type": "string",
            "description": "chats/{id}: whose chat (chat ids are per user); another user's for an admin only.",
        },
        "min_total": {
            "type": "number",
            "minimum": 0,
            "maximum": 50,
            "default": 0,
            "description": "datasets/fine-tune: only versions scored at least this total (0: scored or not).",
        },
        "preferred_only": {
            "type": "boolean",
            "default": False,
            "description": "datasets/fine-tune: only versions from the agent the prompt's latest feedback chose.",
        },
        "best_only": {
            "type": "boolean",
            "default": False,
            "description": "datasets/fine-tune: only each prompt's best head.",
        },
        "agents": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 255},
            "maxItems": 50,
            "default": [],
            "description": "datasets/fine-tune: only versions from these agents (empty: all).",
        },
        "shape": {
            "type": "string",
            "enum": ["chat", "preference"],
            "default": "chat",
            "description": "datasets/fine-tune: chat messages per version, or preference pairs per prompt.",
        },
    },
    "additionalProperties": False,
    "description": "Which options a source takes: prompts include_workflow and csv_mode, datasets "
    "all_users and csv_mode, datasets/fine-tune all_users, min_total, preferred_only, best_only, agents and "
    "shape, artifacts csv_mode, chats owner; any other is 400.",
}


def export_path(export_id: str) -> str:
    return f"/api/v1/exports/{export_id}"


def content_path(export_id: str) -> str:
    return f"/api/v1/exports/{export_id}/content"


class ExportIn(BaseModel):
    """What to render: a source, a format and options (see README, Exports)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1,
        max_length=MAX_SOURCE_CHARS,
        examples=["datasets/temporal"],
        description="`prompts/{id}` (a prompt with its versions and scores), "
        f"`datasets/{{{'|'.join(DATASETS)}}}`, `artifacts/{{id}}` or `chats/{{id}}` (its files and artifacts).",
    )
    format: str = Field(
        min_length=1,
        max_length=16,
        examples=["csv"],
        description="json, yaml, markdown, text, csv, xlsx, pdf or docx; for datasets also jsonl and parquet "
        "(datasets/fine-tune: jsonl only); `zip` for chats/{id} (its only format).",
    )
    options: JsonObject = Field(
        default_factory=dict, examples=[{"csv_mode": "safe"}], json_schema_extra=EXPORT_OPTIONS
    )


def create_request(source: str, fmt: str, options: dict[str, Any]) -> pb.CreateExportRequest:
    struct = struct_pb2.Struct()
    struct.update(options)
    return pb.CreateExportRequest(source=source, format=fmt, options=struct)


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    expires_in: int = Field(
        default=SHARE_LINK_DEFAULT_SECONDS, ge=1, le=SHARE_LINK_MAX_SECONDS, description="Seconds"
    )


class ArtifactExportIn(BaseModel):
    """Seed 004's request body."""

    model_config = ConfigDict(extra="forbid")

    artifactId: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    format: str = Field(min_length=1, max_length=16, examples=["xlsx"])


class ReceiptOut(Out):
    sha256: str
    size_bytes: int
    row_count: int
    source_revision: str
    snapshot_time: str
    renderer_version: str
    csv_mode: str
    data_owner: str | None = Field(
        description="Whose data it is (another user's in an admin's export); null for every user's datasets."
    )

    @staticmethod
    def fields(message: pb.Receipt) -> dict[str, Any]:
        return {
            "sha256": message.sha256,
            "size_bytes": message.size_bytes,
            "row_count": message.row_count,
            "source_revision": message.source_revision,
            "snapshot_time": rfc3339(message.snapshot_time),
            "renderer_version": message.renderer_version,
            "csv_mode": message.csv_mode,
            "data_owner": message.data_owner or None,
        }


class ExportOut(Out):
    id: str
    source: str
    format: str
    options: dict[str, Any]
    status: State
    source_revision: str
    size_bytes: int
    sha256: str | None
    media_type: str
    filename: str
    error: str | None
    receipt: ReceiptOut | None
    download_count: int
    last_downloaded_at: str | None
    cache_hits: int
    rows_rendered: int
    attempts: int
    created_at: str
    updated_at: str
    content_url: str | None = Field(description="Where the bytes are, once completed.")
    expires_at: str | None
    content_encoding: str | None
    stored_bytes: int

    @staticmethod
    def fields(message: pb.Export) -> dict[str, Any]:
        completed = message.state == pb.EXPORT_STATE_COMPLETED
        return {
            "id": message.id,
            "source": message.source,
            "format": message.format,
            "options": struct_dict(message.options),
            "status": STATES.name(message.state),
            "source_revision": message.source_revision,
            "size_bytes": message.size_bytes,
            "sha256": message.sha256 or None,
            "media_type": message.media_type,
            "filename": message.filename,
            "error": message.error_message or None,
            "receipt": ReceiptOut.fields(message.receipt) if message.HasField("receipt") else None,
            "download_count": message.download_count,
            "last_downloaded_at": optional_time(message, "last_download_time"),
            "cache_hits": message.cache_hits,
            "rows_rendered": message.rows_rendered,
            "attempts": message.attempts,
            "created_at": rfc3339(message.create_time),
            "updated_at": rfc3339(message.update_time),
            "content_url": content_path(message.id) if completed else None,
            "expires_at": optional_time(message, "expire_time"),
            "content_encoding": message.content_encoding or None,
            "stored_bytes": message.stored_bytes,
        }


class ExportList(Page[ExportOut]):
    repeated = "exports"


class NewLinkOut(BaseModel):
    """A new share link: the only time its token is shown."""

    url: str
    token: str
    expires_at: str

    @classmethod
    def from_proto(cls, link: pb.ShareLink, url: str) -> NewLinkOut:
        return cls.model_validate({"url": url, "token": link.token, "expires_at": rfc3339(link.expire_time)})


class ShareLinkOut(Out):
    """A link as listed: its id, never its token (only its hash is kept)."""

    id: str
    export_id: str
    expires_at: str
    created_at: str
    revoked_at: str | None
    download_count: int
    last_downloaded_at: str | None

    @staticmethod
    def fields(message: pb.ShareLink) -> dict[str, Any]:
        return {
            "id": message.id,
            "export_id": message.export_id,
            "expires_at": rfc3339(message.expire_time),
            "created_at": rfc3339(message.create_time),
            "revoked_at": optional_time(message, "revoke_time"),
            "download_count": message.download_count,
            "last_downloaded_at": optional_time(message, "last_download_time"),
        }


class ShareLinkList(Page[ShareLinkOut]):
    repeated = "links"


class FormatStatsOut(Out):
    exports: int
    size_bytes: int
    stored_bytes: int
    cache_hits: int
    cache_hit_rate: float
    downloads: int
    link_downloads: int
    last_downloaded_at: str | None

    @staticmethod
    def fields(message: pb.FormatStats) -> dict[str, Any]:
        return {
            "exports": message.exports,
            "size_bytes": message.size_bytes,
            "stored_bytes": message.stored_bytes,
            "cache_hits": message.cache_hits,
            "cache_hit_rate": round(message.cache_hit_rate, 4),
            "downloads": message.downloads,
            "link_downloads": message.link_downloads,
            "last_downloaded_at": optional_time(message, "last_download_time"),
        }


class StatsOut(BaseModel):
    scope: Literal["own", "all_users"]
    formats: dict[str, FormatStatsOut]
    total: FormatStatsOut

    @classmethod
    def from_proto(cls, reply: pb.GetExportStatsResponse) -> StatsOut:
        return cls.model_validate(
            {
                "scope": "all_users" if reply.all_users else "own",
                "formats": {entry.format: FormatStatsOut.fields(entry) for entry in reply.formats},
                "total": FormatStatsOut.fields(reply.total),
            }
        )


class SeedPromptExportOut(BaseModel):
    id: str
    session_id: str
    agent_type: str | None
    format: str
    file_size: str
    size_bytes: int
    created_at: str
    download_url: str


class SeedPromptExportsOut(BaseModel):
    """Seed 000: a session's stored exports."""

    session_id: str
    exports: list[SeedPromptExportOut]
    total: int


class SeedDatasetCsvOut(BaseModel):
    """Seeds 001/002: a dataset export, with a download URL where the seeds had a server path."""

    success: bool
    records: int
    export_id: str
    download_url: str
    csv_path: str
    reused: bool


class SeedArtifactExportOut(BaseModel):
    """Seed 004: a rendered artifact and a link that works without a token for an hour."""

    id: str
    artifactId: str
    format: str
    url: str
    status: State
    createdAt: str
    expiresAt: str
