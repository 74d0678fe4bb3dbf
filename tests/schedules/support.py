"""Helpers of the schedule tests: feedback rows placed in time, the test's clock moved by SQL (as the
retention tests do), runs followed through the gateway."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from tests.support.system import User


def give_feedback(user: User, request_id: str) -> None:
    user.create_prompt(request_id=request_id, original_text=f"Prompt of {request_id}")
    reply = user.http.post(
        "/api/v1/feedback",
        json={
            "request_id": request_id,
            "user_choice": "multi",
            "judge_winner": "multi",
            "agent_winner": "multi",
        },
    )
    assert reply.status_code in (200, 201), reply.text


def hour_now(url: str) -> datetime:
    """The start of the database's current hour (its clock is the one schedules run by)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT date_trunc('hour', now())").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def set_feedback_time(url: str, *, owner: str, request_id: str, at: datetime) -> None:
    """Moves a feedback row's change time (the test's clock)."""
    with psycopg.connect(url, autocommit=True) as conn:
        updated = conn.execute(
            "UPDATE prompts.feedback SET created_at = %s, updated_at = %s WHERE owner = %s AND request_id = %s",
            (at, at, owner, request_id),
        ).rowcount
    assert updated == 1


def wait_for(what: str, check: Callable[[], Any], *, timeout: float = 90.0) -> Any:
    """Polls `check` until it returns something truthy; fails naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last seen: {value!r}")


def runs(user: User, schedule_id: str) -> list[dict[str, Any]]:
    reply = user.http.get(f"/api/v1/export-schedules/{schedule_id}/runs")
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]  # type: ignore[no-any-return]
