"""A schedule running three windows across two exports replicas, the middle one failing first (its S3
destination stopped), then retried: every window is delivered exactly once, with exactly its rows."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.schedules.support import give_feedback, hour_now, runs, set_feedback_time, wait_for
from tests.support.s3 import running_s3_server
from tests.support.system import System

pytestmark = pytest.mark.s3

SCHEDULE_SETTINGS = {
    "DEPOT_SCHEDULE_PLAN_INTERVAL_SECONDS": "0.3",
    "DEPOT_SCHEDULE_LAG_SECONDS": "1",
    "DEPOT_SCHEDULE_RETRY_SECONDS": "1",
    "DEPOT_SCHEDULE_ALLOW_PRIVATE_ENDPOINTS": "true",
    "DEPOT_EXPORT_JOB_MAX_ATTEMPTS": "1",
}


def test_three_windows_with_a_failure_in_the_middle_run_each_window_once_across_two_replicas(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = Path(tmp_path_factory.mktemp("schedules"))
    with (
        running_s3_server(directory / "s3", bucket="deliveries") as s3,
        System.on_own_database(directory, replicas=2, **SCHEDULE_SETTINGS) as system,  # type: ignore[arg-type]
    ):
        # A database of its own: another system's exports workers would take these runs from a shared
        # queue, and their service secret does not open these credentials.
        database = system.database
        user = system.client()
        hour = hour_now(database.url)
        # The test's clock: the schedule began three hours ago; one feedback row changed in each hour.
        windows = [(hour - timedelta(hours=3 - k), hour - timedelta(hours=2 - k)) for k in range(3)]
        for k, (start, _) in enumerate(windows):
            give_feedback(user, f"req-window-{k}")
            set_feedback_time(
                database.url, owner=user.id, request_id=f"req-window-{k}", at=start + timedelta(minutes=10)
            )
        created = user.http.post(
            "/api/v1/export-schedules",
            json={
                "source": "datasets/feedback",
                "format": "csv",
                "every": "hourly",
                "mode": "incremental",
                "destination": {
                    "type": "s3",
                    "bucket": "deliveries",
                    "endpoint_url": s3.endpoint_url,
                    "prefix": "depot/feedback",
                    "access_key_id": s3.access_key,
                    "secret_access_key": s3.secret_key,
                },
            },
        )
        assert created.status_code == 201, created.text
        schedule = created.json()
        assert "secret_access_key" not in created.text and s3.secret_key not in created.text
        assert schedule["destination"]["has_credentials"] is True

        with psycopg.connect(database.url) as hold:
            # Holding the schedule's row lock keeps both planners off it (they skip locked schedules).
            hold.execute("SELECT 1 FROM exports.schedules WHERE id = %s FOR UPDATE", (schedule["id"],))
            hold.execute(
                "UPDATE exports.schedules SET next_window_start = %s, created_at = %s, due_at = now() WHERE id = %s",
                (windows[0][0], windows[0][0], schedule["id"]),
            )
            hold.commit()
            wait_for("the first window's run", lambda: runs(user, schedule["id"]))
            hold.execute("SELECT 1 FROM exports.schedules WHERE id = %s FOR UPDATE", (schedule["id"],))
            first = wait_for(
                "the first window completed",
                lambda: [r for r in runs(user, schedule["id"]) if r["status"] == "completed"],
            )
            assert len(runs(user, schedule["id"])) == 1, (
                "the second window was planned before the first ended"
            )
            s3.stop()
            hold.commit()  # the planners may go on: the second window meets a vanished destination
        failed = wait_for(
            "a failed run of the second window",
            lambda: [r for r in runs(user, schedule["id"]) if r["status"] == "failed"],
        )
        s3.start()
        expected = [(_rfc3339(a), _rfc3339(b)) for a, b in windows]
        done = wait_for(
            "the three windows completed",
            lambda: (
                lambda c: c if set(expected) <= {(r["window_start"], r["window_end"]) for r in c} else None
            )([r for r in runs(user, schedule["id"]) if r["status"] == "completed"]),
        )

        # Should the hour turn meanwhile, the window that ended then is due too: it may follow, empty.
        every_run = runs(user, schedule["id"])
        completed = sorted((r["window_start"], r["window_end"]) for r in done)
        assert completed[:3] == expected, f"expected windows {expected}, got {completed}"
        assert all(b[0] == a[1] for a, b in itertools.pairwise(completed)), (
            f"a gap or an overlap: {completed}"
        )
        later = [r for r in done if r["window_start"] >= _rfc3339(hour)]
        assert len(later) <= 1 and all(r["row_count"] == 0 for r in later), later
        assert first[0]["window_start"] == expected[0][0]
        assert {(r["window_start"], r["window_end"]) for r in failed} == {expected[1]}
        assert all("destination s3://deliveries" in r["error"] for r in failed), failed
        assert {(r["window_start"], r["window_end"]) for r in every_run} == set(completed), every_run
        assert all(r["row_count"] == 1 for r in done if r not in later), done

        client = s3.client()
        listed = client.list_objects_v2(Bucket="deliveries", Prefix="depot/feedback/")["Contents"]
        objects = sorted(o["Key"] for o in listed)
        assert [r["delivered_to"] for r in sorted(done, key=lambda r: r["window_start"])] == [
            f"s3://deliveries/{key}" for key in objects
        ]
        for k, key in enumerate(objects):
            body = gzip.decompress(client.get_object(Bucket="deliveries", Key=key)["Body"].read())
            rows = list(csv.DictReader(io.StringIO(body.decode())))
            wanted = [f"req-window-{k}"] if k < 3 else []
            assert [row["request_id"] for row in rows] == wanted, (key, rows)


def _rfc3339(value: object) -> str:
    text = value.isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]
    return text
