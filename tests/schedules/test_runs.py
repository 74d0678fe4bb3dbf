"""Runs of a schedule are ordinary exports: a full run into this deployment's store is downloaded like
any export; a destination with wrong credentials fails the run with the store's own reason, and the
same window is run again (never skipped, never followed by a later one until it succeeds)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.schedules.support import give_feedback, hour_now, runs, set_feedback_time, wait_for
from tests.support.s3 import running_s3_server
from tests.support.system import System

pytestmark = pytest.mark.s3

SETTINGS = {
    "DEPOT_SCHEDULE_PLAN_INTERVAL_SECONDS": "0.3",
    "DEPOT_SCHEDULE_LAG_SECONDS": "1",
    "DEPOT_SCHEDULE_RETRY_SECONDS": "1",
    "DEPOT_SCHEDULE_ALLOW_PRIVATE_ENDPOINTS": "true",
    "DEPOT_EXPORT_JOB_MAX_ATTEMPTS": "1",
}


def start_an_hour_ago(url: str, schedule_id: str) -> None:
    """The test's clock: the schedule was created an hour ago, so its first window is due."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE exports.schedules SET next_window_start = date_trunc('hour', now()) - interval '1 hour',"
            " created_at = date_trunc('hour', now()) - interval '1 hour', due_at = now() WHERE id = %s",
            (schedule_id,),
        )


def test_full_runs_land_in_the_store_and_wrong_credentials_retry_the_same_window(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = Path(tmp_path_factory.mktemp("schedule-runs"))
    with (
        running_s3_server(directory / "s3", bucket="refusing") as s3,
        System.on_own_database(directory, **SETTINGS) as system,
    ):
        # A database of its own: another system's exports workers would take these runs from a shared
        # queue, and their service secret does not open these credentials.
        database = system.database
        user = system.client()
        hour = hour_now(database.url)
        for n, at in enumerate((hour - timedelta(days=3), hour - timedelta(minutes=30))):
            give_feedback(user, f"req-full-{n}")
            set_feedback_time(database.url, owner=user.id, request_id=f"req-full-{n}", at=at)
        full = user.http.post(
            "/api/v1/export-schedules",
            json={"source": "datasets/feedback", "format": "json", "every": "hourly", "mode": "full"},
        ).json()
        wrong = user.http.post(
            "/api/v1/export-schedules",
            json={
                "source": "datasets/feedback",
                "format": "csv",
                "every": "hourly",
                "mode": "incremental",
                "destination": {
                    "type": "s3",
                    "bucket": "refusing",
                    "endpoint_url": s3.endpoint_url,
                    "access_key_id": s3.access_key,
                    "secret_access_key": "not-the-secret",
                },
            },
        ).json()
        broken = user.http.post(
            "/api/v1/export-schedules",
            json={"source": "datasets/feedback", "format": "csv", "every": "daily", "mode": "full"},
        ).json()
        for schedule in (full, wrong, broken):
            start_an_hour_ago(database.url, schedule["id"])
        with psycopg.connect(database.url, autocommit=True) as conn:  # a cron that no longer parses
            conn.execute("UPDATE exports.schedules SET cron = 'not a cron' WHERE id = %s", (broken["id"],))

        window = (
            (hour - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            hour.isoformat().replace("+00:00", "Z"),
        )
        # (Should the hour turn meanwhile, the next window may complete too: the test looks at this one.)
        [done] = wait_for(
            "the full run",
            lambda: [
                r
                for r in runs(user, full["id"])
                if r["status"] == "completed" and (r["window_start"], r["window_end"]) == window
            ],
        )
        assert done["delivered_to"] is None and done["row_count"] == 2
        export = user.http.get(f"/api/v1/exports/{done['export_id']}").json()
        assert export["status"] == "completed"
        content = json.loads(user.http.get(f"/api/v1/exports/{done['export_id']}/content").content)
        assert "req-full-0" in json.dumps(content) and "req-full-1" in json.dumps(content)

        failed = wait_for(
            "two failed runs of the same window",
            lambda: (lambda f: f if len(f) >= 2 else None)(
                [r for r in runs(user, wrong["id"]) if r["status"] == "failed"]
            ),
        )
        assert {(r["window_start"], r["window_end"]) for r in runs(user, wrong["id"])} == {
            (done["window_start"], done["window_end"])
        }
        for run in failed:
            assert "destination s3://refusing refused the write" in run["error"], run
            assert "SignatureDoesNotMatch" in run["error"] or "AccessDenied" in run["error"], run
        logs = system.logs()
        assert "not-the-secret" not in logs
        # The schedule that cannot be planned is logged, and held up none of the others.
        assert f'"schedule_id": "{broken["id"]}"' in logs and "schedule_plan_failed" in logs
        assert runs(user, broken["id"]) == []
