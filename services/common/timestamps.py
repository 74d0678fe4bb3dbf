"""protobuf Timestamps and aware datetimes, both ways: what every service's messages convert."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def datetime_of(ts: timestamp_pb2.Timestamp) -> datetime:
    """An aware (UTC) datetime; protobuf's own ToDatetime() is naive."""
    return ts.ToDatetime(tzinfo=UTC)
