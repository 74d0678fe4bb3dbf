"""Conversions between protobuf messages and the rows of the exports domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2

from depot.exports.v1 import exports_pb2 as pb
from services.common.json_values import struct_dict
from services.common.timestamps import timestamp
from services.exports.lifecycle.downloads import Content
from services.exports.lifecycle.history import FormatStats, Stats

STATES = {
    "queued": pb.EXPORT_STATE_QUEUED,
    "processing": pb.EXPORT_STATE_PROCESSING,
    "completed": pb.EXPORT_STATE_COMPLETED,
    "failed": pb.EXPORT_STATE_FAILED,
}
STATE_NAMES = {v: k for k, v in STATES.items()}


def options_dict(options: struct_pb2.Struct) -> dict[str, Any]:
    return struct_dict(options)  # never raises on NaN or an infinity: the rules refuse them


def receipt_message(receipt: dict[str, Any]) -> pb.Receipt:
    message = pb.Receipt(
        sha256=receipt["sha256"],
        size_bytes=receipt["size_bytes"],
        row_count=receipt["row_count"],
        source_revision=receipt["source_revision"],
        renderer_version=receipt["renderer_version"],
        csv_mode=receipt["csv_mode"],
        data_owner=receipt.get("data_owner", ""),  # receipts written before it was recorded have none
    )
    message.snapshot_time.CopyFrom(timestamp(datetime.fromisoformat(receipt["snapshot_time"])))
    return message


def export_message(row: Any) -> pb.Export:
    message = pb.Export(
        id=str(row.id),
        owner=row.owner,
        source=row.source,
        format=row.format,
        source_revision=row.source_revision,
        state=STATES[row.status],
        size_bytes=row.size_bytes or 0,
        sha256=row.sha256 or "",
        media_type=row.media_type,
        filename=row.filename,
        error_message=row.error or "",
        download_count=row.download_count,
        cache_hits=row.cache_hits,
        rows_rendered=row.rows_rendered,
        attempts=row.attempts,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )
    message.options.update(row.options)
    if row.receipt:
        message.receipt.CopyFrom(receipt_message(row.receipt))
    if row.last_downloaded_at is not None:
        message.last_download_time.CopyFrom(timestamp(row.last_downloaded_at))
    if row.expires_at is not None:
        message.expire_time.CopyFrom(timestamp(row.expires_at))
    message.content_encoding = row.content_encoding or ""
    message.stored_bytes = row.stored_bytes or 0
    return message


# Field 2, length-delimited: `chunk` in ReadExportContentResponse and ReadSharedContentResponse alike.
_CHUNK_TAG = b"\x12"


def encoded_chunk(data: bytes) -> bytes:
    """A content response holding `data` as its chunk, encoded as protobuf encodes it but with one
    copy of the bytes (the interceptor sends bytes as they are): a download's chunks are megabytes."""
    return b"".join((_CHUNK_TAG, _varint(len(data)), data))


def _varint(value: int) -> bytes:
    encoded = bytearray()
    while value > 0x7F:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


def content_metadata(content: Content) -> pb.ContentMetadata:
    row = content.row
    return pb.ContentMetadata(
        export_id=str(row.id),
        size_bytes=content.size if not content.not_modified else row.size_bytes,
        sha256=row.sha256,
        media_type=row.media_type,
        filename=row.filename,
        not_modified=content.not_modified,
        content_encoding=content.encoding,
        redirect_url=content.redirect_url,
    )


def share_link_message(row: Any, token: str = "") -> pb.ShareLink:
    """A link; its token only when just created (afterwards only its hash, the id, is known)."""
    message = pb.ShareLink(
        token=token,
        id=row.token_hash,
        export_id=str(row.export_id),
        expire_time=timestamp(row.expires_at),
        create_time=timestamp(row.created_at),
        download_count=row.download_count,
    )
    if row.revoked_at is not None:
        message.revoke_time.CopyFrom(timestamp(row.revoked_at))
    if row.last_downloaded_at is not None:
        message.last_download_time.CopyFrom(timestamp(row.last_downloaded_at))
    return message


def format_stats_message(stats: FormatStats) -> pb.FormatStats:
    message = pb.FormatStats(
        format=stats.format,
        exports=stats.exports,
        size_bytes=stats.size_bytes,
        stored_bytes=stats.stored_bytes,
        cache_hits=stats.cache_hits,
        cache_hit_rate=stats.cache_hit_rate,
        downloads=stats.downloads,
        link_downloads=stats.link_downloads,
    )
    if stats.last_downloaded_at is not None:
        message.last_download_time.CopyFrom(timestamp(stats.last_downloaded_at))
    return message


def stats_message(stats: Stats) -> pb.GetExportStatsResponse:
    return pb.GetExportStatsResponse(
        formats=[format_stats_message(entry) for entry in stats.formats],
        total=format_stats_message(stats.total),
        all_users=stats.all_users,
    )
