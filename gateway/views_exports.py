"""Protobuf messages of the exports service as the JSON the REST surface returns."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from depot.exports.v1 import exports_pb2 as pb

STATE_NAMES = {
    pb.EXPORT_STATE_QUEUED: "queued",
    pb.EXPORT_STATE_PROCESSING: "processing",
    pb.EXPORT_STATE_COMPLETED: "completed",
    pb.EXPORT_STATE_FAILED: "failed",
}
STATE_VALUES = {v: k for k, v in STATE_NAMES.items()}


RUNNING = (pb.EXPORT_STATE_QUEUED, pb.EXPORT_STATE_PROCESSING)


def export_path(export_id: str) -> str:
    return f"/api/v1/exports/{export_id}"


def content_path(export_id: str) -> str:
    return f"/api/v1/exports/{export_id}/content"


def receipt(message: pb.Receipt) -> dict[str, Any]:
    return {
        "sha256": message.sha256,
        "size_bytes": message.size_bytes,
        "row_count": message.row_count,
        "source_revision": message.source_revision,
        "snapshot_time": message.snapshot_time.ToJsonString(),
        "renderer_version": message.renderer_version,
        "csv_mode": message.csv_mode,
        # Whose data it is (another user's in an admin's export); null for every user's datasets.
        "data_owner": message.data_owner or None,
    }


def export(message: pb.Export) -> dict[str, Any]:
    completed = message.state == pb.EXPORT_STATE_COMPLETED
    return {
        "id": message.id,
        "source": message.source,
        "format": message.format,
        "options": json_format.MessageToDict(message.options),
        "status": STATE_NAMES.get(message.state, "unspecified"),
        "source_revision": message.source_revision,
        "size_bytes": message.size_bytes,
        "sha256": message.sha256 or None,
        "media_type": message.media_type,
        "filename": message.filename,
        "error": message.error_message or None,
        "receipt": receipt(message.receipt) if message.HasField("receipt") else None,
        "download_count": message.download_count,
        "last_downloaded_at": message.last_download_time.ToJsonString()
        if message.HasField("last_download_time")
        else None,
        "cache_hits": message.cache_hits,
        "rows_rendered": message.rows_rendered,
        "attempts": message.attempts,
        "created_at": message.create_time.ToJsonString(),
        "updated_at": message.update_time.ToJsonString(),
        "content_url": content_path(message.id) if completed else None,
        "expires_at": _time(message, "expire_time"),
        "content_encoding": message.content_encoding or None,
        "stored_bytes": message.stored_bytes,
    }


def _time(message: Any, name: str) -> str | None:
    """An optional timestamp field as RFC 3339, None when unset."""
    return str(getattr(message, name).ToJsonString()) if message.HasField(name) else None


def share_link(message: pb.ShareLink) -> dict[str, Any]:
    """A link as listed: its id, never its token (only its hash is kept)."""
    return {
        "id": message.id,
        "export_id": message.export_id,
        "expires_at": message.expire_time.ToJsonString(),
        "created_at": message.create_time.ToJsonString(),
        "revoked_at": _time(message, "revoke_time"),
        "download_count": message.download_count,
        "last_downloaded_at": _time(message, "last_download_time"),
    }


def format_stats(message: pb.FormatStats) -> dict[str, Any]:
    return {
        "exports": message.exports,
        "size_bytes": message.size_bytes,
        "stored_bytes": message.stored_bytes,
        "cache_hits": message.cache_hits,
        "cache_hit_rate": round(message.cache_hit_rate, 4),
        "downloads": message.downloads,
        "link_downloads": message.link_downloads,
        "last_downloaded_at": _time(message, "last_download_time"),
    }


def stats(message: pb.GetExportStatsResponse) -> dict[str, Any]:
    return {
        "scope": "all_users" if message.all_users else "own",
        "formats": {entry.format: format_stats(entry) for entry in message.formats},
        "total": format_stats(message.total),
    }
