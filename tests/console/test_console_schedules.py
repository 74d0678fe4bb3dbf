"""The schedules page: a schedule added through the form is listed, opened with its runs, and deleted."""

from __future__ import annotations

import psycopg

from tests.console.conftest import Console, needs_chromium
from tests.support.system import Database, User

pytestmark = needs_chromium


def test_a_schedule_is_added_shown_with_its_runs_and_deleted(
    console: Console, alice: User, database: Database
) -> None:
    console.sign_in(alice)
    page = console.page
    console.go("#/schedules", "#schedule-form")
    assert "No schedules yet." in page.inner_text("main")
    page.get_by_label("Source").fill("datasets/feedback")
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("Every").fill("* * * * *")
    page.get_by_role("button", name="Add schedule").click()
    page.wait_for_selector("#status:has-text('schedules fire at most every')")
    page.get_by_label("Every").fill("hourly")
    page.get_by_label("Mode").select_option("full")
    page.get_by_role("button", name="Add schedule").click()
    page.wait_for_selector("#schedule-table tr[data-schedule]")
    [schedule] = alice.http.get("/api/v1/export-schedules").json()["items"]
    assert (schedule["every"], schedule["mode"], schedule["format"]) == ("hourly", "full", "csv")
    assert "this deployment's store" in page.inner_text("#schedule-table")

    # The test's clock: the schedule began two hours ago, so its first window ended an hour ago,
    # further back than the planner's safety lag (300 s) at any minute of the hour. (One hour back
    # made the window end on the hour: in the first five minutes of an hour nothing was due yet.)
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE exports.schedules SET next_window_start = date_trunc('hour', now()) - interval '2 hours',"
            " created_at = date_trunc('hour', now()) - interval '2 hours', due_at = now() WHERE id = %s",
            (schedule["id"],),
        )
    page.get_by_role("link", name="datasets/feedback").click()
    page.wait_for_selector("h1:text-is('Schedule of datasets/feedback')")
    for _ in range(60):
        if page.query_selector("#run-table tr[data-status='completed']"):
            break
        page.wait_for_timeout(1000)
        console.go(f"#/schedules/{schedule['id']}?again={_}", "h1")
    page.wait_for_selector("#run-table tr[data-status='completed']")
    console.screenshot("13-schedule-runs")

    console.go("#/schedules", "#schedule-table")
    page.get_by_role("button", name="Delete schedule of datasets/feedback").click()
    page.wait_for_selector("main p.empty:text-is('No schedules yet.')")
    assert alice.http.get("/api/v1/export-schedules").json()["items"] == []
    # The browser logs the refused cron's 400 as a failed load; nothing else went wrong.
    assert [e for e in console.errors if "status of 400" not in e] == []
