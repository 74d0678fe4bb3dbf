"""Polling a webhook's delivery log through the gateway until it shows what a test waits for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.system import User


def subscribe(user: User, url: str, events: list[str]) -> dict[str, Any]:
    reply = user.http.post("/api/v1/webhooks", json={"url": url, "events": events})
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def deliveries(user: User, webhook_id: str) -> list[dict[str, Any]]:
    reply = user.http.get(f"/api/v1/webhooks/{webhook_id}/deliveries")
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]  # type: ignore[no-any-return]


def wait_until(
    read: Callable[[], Any], done: Callable[[Any], bool], *, timeout: float = 60, what: str = "a condition"
) -> Any:
    """Reads until `done` holds for what was read; fails with the last reading after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"waited for {what}; last got {value}"
        time.sleep(0.1)
