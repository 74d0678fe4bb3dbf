"""Conversions between the schedules protobuf messages and their rows."""

from __future__ import annotations

from typing import Any

from depot.exports.v1 import schedules_pb2 as pb
from services.common.timestamps import timestamp

MODES = {"full": pb.SCHEDULE_MODE_FULL, "incremental": pb.SCHEDULE_MODE_INCREMENTAL}
MODE_NAMES = {value: name for name, value in MODES.items()}
DESTINATION_FIELDS = (
    "type",
    "bucket",
    "endpoint_url",
    "region",
    "prefix",
    "access_key_id",
    "secret_access_key",
)


def destination_dict(message: pb.Destination) -> dict[str, str] | None:
    """What the caller asked for; None when no destination was given."""
    values = {name: getattr(message, name) for name in DESTINATION_FIELDS}
    return values if any(values.values()) else None


def schedule_message(row: Any) -> pb.Schedule:
    destination = pb.Destination(**{k: v for k, v in row.destination.items() if k in DESTINATION_FIELDS})
    destination.has_credentials = row.credentials is not None
    message = pb.Schedule(
        id=str(row.id),
        owner=row.owner,
        source=row.source,
        format=row.format,
        every=row.every,
        mode=MODES[row.mode],
        destination=destination,
        next_window_start=timestamp(row.next_window_start),
        create_time=timestamp(row.created_at),
    )
    message.options.update(row.options)
    return message


def run_message(row: Any) -> pb.ScheduleRun:
    return pb.ScheduleRun(
        export_id=str(row.id),
        window_start=timestamp(row.window_start),
        window_end=timestamp(row.window_end),
        status=row.status,
        attempts=row.attempts,
        row_count=row.rows_rendered,
        size_bytes=row.size_bytes or 0,
        sha256=row.sha256 or "",
        error_message=row.error or "",
        delivered_to=row.delivered_to or "",
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )
