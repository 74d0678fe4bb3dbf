"""When schedules fire and which windows their runs cover, without I/O."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import InvalidArgument, PermissionDenied
from services.exports.rules import changed_window, export_request
from services.exports.schedules.cadence import EPOCH, cron_of, window_end
from services.exports.schedules.rules import check_destination, run_request, schedule_spec

NOW = datetime(2026, 12, 4, 17, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("every", "cron"),
    [
        ("hourly", "0 * * * *"),
        ("Daily", "0 0 * * *"),
        ("weekly", "0 0 * * 0"),
        (" */15 * * * * ", "*/15 * * * *"),
    ],
)
def test_shorthands_and_crons_are_understood(every: str, cron: str) -> None:
    assert cron_of(every, min_interval_seconds=300, now=NOW) == cron


@pytest.mark.parametrize(
    "every", ["* * * * *", "0,1 * * * *", "*/4 * * * *", "0 0 30 2 *", "0 0 31 11 *", "@daily", ""]
)
def test_too_frequent_never_firing_or_malformed_cadences_are_invalid(every: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        cron_of(every, min_interval_seconds=300, now=NOW)
    assert raised.value.field == "every"


def test_windows_follow_each_other_without_gap_or_overlap() -> None:
    created = NOW - timedelta(hours=5)
    start, windows = EPOCH, []
    for _ in range(6):
        end = window_end("0 * * * *", window_start=start, created_at=created)
        windows.append((start, end))
        start = end
    assert windows[0] == (EPOCH, datetime(2026, 12, 4, 13, tzinfo=UTC))  # the first ends at the first fire
    for (_, previous_end), (next_start, next_end) in itertools.pairwise(windows):
        assert next_start == previous_end and next_end - next_start == timedelta(hours=1)


def test_a_run_carries_its_window_and_only_incremental_runs_filter_by_it() -> None:
    base = export_request(source="datasets/feedback", fmt="csv", options={}, is_admin=False)
    start, end = NOW - timedelta(hours=1), NOW
    incremental = run_request(request=base, mode="incremental", window_start=start, window_end=end)
    full = run_request(request=base, mode="full", window_start=start, window_end=end)
    assert changed_window(incremental.options) == (start, end)
    assert changed_window(full.options) is None
    later = run_request(request=base, mode="full", window_start=end, window_end=end + timedelta(hours=1))
    assert len({base.options_hash, full.options_hash, later.options_hash}) == 3  # each window its own export


def test_all_users_needs_an_admin_and_incremental_needs_a_dated_dataset() -> None:
    spec = {
        "fmt": "csv",
        "every": "daily",
        "destination": None,
        "user_id": "u",
        "min_interval_seconds": 300,
        "now": NOW,
    }
    with pytest.raises(PermissionDenied):
        schedule_spec(
            source="datasets/feedback", options={"all_users": True}, mode="full", is_admin=False, **spec
        )
    assert schedule_spec(
        source="datasets/all", options={"all_users": True}, mode="full", is_admin=True, **spec
    )
    with pytest.raises(InvalidArgument, match="incremental mode needs a dataset"):
        schedule_spec(source="datasets/effectiveness", options={}, mode="incremental", is_admin=False, **spec)


def test_s3_destinations_keep_their_secrets_apart() -> None:
    public, secrets = check_destination(
        {"type": "s3", "bucket": "b-1", "prefix": "/a/b", "access_key_id": "k", "secret_access_key": "s"}
    )
    assert public == {
        "type": "s3",
        "bucket": "b-1",
        "endpoint_url": "",
        "region": "us-east-1",
        "prefix": "a/b/",
    }
    assert secrets == {"access_key_id": "k", "secret_access_key": "s"}
    assert check_destination({}) == ({"type": "blobstore"}, None)
