"""Bodies of the export schedule routes (gateway/routes/schedules.py)."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from pydantic import Field

from depot.exports.v1 import schedules_pb2 as pb
from gateway.models.common import Body, Choices, JsonObject, Out, Page, rfc3339
from services.common.json_values import struct_dict
from services.common.limits import (
    MAX_DESTINATION_SECRET_CHARS,
    MAX_ENDPOINT_URL_CHARS,
    MAX_EVERY_CHARS,
    MAX_SOURCE_CHARS,
)

MODES = Choices(pb.ScheduleMode, "SCHEDULE_MODE_")


class DestinationIn(Body):
    """Where runs go: this deployment's blob store (the default) or an S3 bucket with its own keys."""

    type: str = Field(default="blobstore", max_length=16, description="`blobstore` or `s3`.")
    bucket: str = Field(default="", max_length=63)
    endpoint_url: str = Field(
        default="", max_length=MAX_ENDPOINT_URL_CHARS, description="Any S3-compatible endpoint; empty: AWS."
    )
    region: str = Field(default="", max_length=64)
    prefix: str = Field(default="", max_length=200, description="Prepended to every key written.")
    access_key_id: str = Field(
        default="", max_length=MAX_DESTINATION_SECRET_CHARS, description="Stored encrypted, never returned."
    )
    secret_access_key: str = Field(
        default="", max_length=MAX_DESTINATION_SECRET_CHARS, description="Stored encrypted, never returned."
    )

    def to_proto(self) -> pb.Destination:
        return pb.Destination(**self.model_dump())


class ScheduleIn(Body):
    """A schedule: what to export (as `POST /exports`), how often, which rows, where to."""

    source: str = Field(
        max_length=MAX_SOURCE_CHARS, description="As for an export, e.g. `datasets/feedback`."
    )
    format: str = Field(max_length=16)
    options: JsonObject = Field(default_factory=dict)
    every: str = Field(
        max_length=MAX_EVERY_CHARS,
        description="`hourly`, `daily`, `weekly` or a five-field cron expression, in UTC; at most one fire "
        "per DEPOT_SCHEDULE_MIN_INTERVAL_SECONDS.",
    )
    mode: MODES.type = Field(  # type: ignore[valid-type]
        default="full",
        description="`full`: every row at each fire; `incremental`: the rows changed within each window.",
    )
    destination: DestinationIn | None = None

    def to_proto(self) -> pb.CreateScheduleRequest:
        options = struct_pb2.Struct()
        options.update(self.options)
        message = pb.CreateScheduleRequest(
            source=self.source,
            format=self.format,
            options=options,
            every=self.every,
            mode=MODES.numbers[self.mode],
        )
        if self.destination is not None:
            message.destination.CopyFrom(self.destination.to_proto())
        return message


class DestinationOut(Out):
    type: str
    bucket: str | None
    endpoint_url: str | None
    region: str | None
    prefix: str | None
    has_credentials: bool

    @staticmethod
    def fields(message: pb.Destination) -> dict[str, Any]:
        return {
            "type": message.type,
            "bucket": message.bucket or None,
            "endpoint_url": message.endpoint_url or None,
            "region": message.region or None,
            "prefix": message.prefix or None,
            "has_credentials": message.has_credentials,
        }


class ScheduleOut(Out):
    id: str
    source: str
    format: str
    options: dict[str, Any]
    every: str
    mode: MODES.type  # type: ignore[valid-type]
    destination: DestinationOut
    next_window_start: str = Field(description="Where the next window not yet run starts.")
    created_at: str

    @staticmethod
    def fields(message: pb.Schedule) -> dict[str, Any]:
        return {
            "id": message.id,
            "source": message.source,
            "format": message.format,
            "options": struct_dict(message.options),
            "every": message.every,
            "mode": MODES.name(message.mode),
            "destination": DestinationOut.fields(message.destination),
            "next_window_start": rfc3339(message.next_window_start),
            "created_at": rfc3339(message.create_time),
        }


class ScheduleList(Page[ScheduleOut]):
    repeated = "schedules"


class RunOut(Out):
    export_id: str = Field(description="The run's export: GET /exports/{id}, /exports/{id}/content.")
    window_start: str
    window_end: str
    status: str
    attempts: int
    row_count: int
    size_bytes: int
    sha256: str | None
    error: str | None
    delivered_to: str | None = Field(description="`s3://bucket/key`; null for this deployment's store.")
    created_at: str
    updated_at: str

    @staticmethod
    def fields(message: pb.ScheduleRun) -> dict[str, Any]:
        return {
            "export_id": message.export_id,
            "window_start": rfc3339(message.window_start),
            "window_end": rfc3339(message.window_end),
            "status": message.status,
            "attempts": message.attempts,
            "row_count": message.row_count,
            "size_bytes": message.size_bytes,
            "sha256": message.sha256 or None,
            "error": message.error_message or None,
            "delivered_to": message.delivered_to or None,
            "created_at": rfc3339(message.create_time),
            "updated_at": rfc3339(message.update_time),
        }


class RunList(Page[RunOut]):
    repeated = "runs"
