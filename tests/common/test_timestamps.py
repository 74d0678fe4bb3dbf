"""timestamp() is protobuf's FromDatetime, computed faster: the same Timestamp for any datetime,
aware at any offset or naive (UTC), before or after the epoch, to the microsecond."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from google.protobuf import timestamp_pb2

from services.common.timestamps import datetime_of, timestamp


def protobufs(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def test_timestamp_is_protobufs_own_for_10000_datetimes() -> None:
    rng = random.Random(17)
    # Years 2 to 9998, so that any offset keeps the wall time within datetime's range.
    low, high = datetime(2, 1, 1, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC)
    span = int((high - low).total_seconds())
    for _ in range(10_000):
        value = low + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(1_000_000))
        offset = timezone(timedelta(minutes=rng.randrange(-14 * 60, 14 * 60 + 1)))
        for each in (value, value.astimezone(offset), value.replace(tzinfo=None)):
            assert timestamp(each) == protobufs(each), each
    now = datetime.now(UTC)
    assert datetime_of(timestamp(now)) == now
