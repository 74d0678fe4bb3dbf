"""The delivery log's retention: deliveries that ended longer ago than the retention go with their
attempts, a batch per transaction, by one replica at a time; recent and pending ones stay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from services.common.database import Database
from services.exports.webhooks import retention
from services.exports.webhooks.retention import DeliveryRetention
from services.exports.webhooks.settings import WebhookSettings
from tests.support.system import System


def _delivery(conn: psycopg.Connection, webhook_id: uuid.UUID, status: str, days_ago: int) -> uuid.UUID:
    """A delivery created and (unless pending) ended `days_ago` days ago, with one attempt."""
    delivery_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO exports.webhook_deliveries (id, webhook_id, event_id, event_type, subject, body,"
        " status, created_at, ended_at)"
        " VALUES (%(id)s, %(webhook)s, %(event)s, 'prompt.created', 'prompts/x', '{}', %(status)s::text,"
        " now() - make_interval(days => %(days)s), CASE WHEN %(status)s::text = 'pending' THEN NULL"
        " ELSE now() - make_interval(days => %(days)s) END)",
        {
            "id": delivery_id,
            "webhook": webhook_id,
            "event": str(uuid.uuid4()),
            "status": status,
            "days": days_ago,
        },
    )
    conn.execute(
        "INSERT INTO exports.webhook_attempts (delivery_id, attempt_no, attempted_at, duration_ms, status_code)"
        " VALUES (%s, 1, now(), 5, 200)",
        (delivery_id,),
    )
    return delivery_id


@pytest.fixture
def log(system: System) -> Iterator[tuple[psycopg.Connection, uuid.UUID]]:
    """A connection, and a subscription of a user of its own to hang deliveries on."""
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        webhook_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO exports.webhooks (id, owner, url, events, secret)"
            " VALUES (%s, %s, 'https://52.216.8.1/hook', ARRAY['prompt.created'], 'whsec_x')",
            (webhook_id, f"retention-{uuid.uuid4()}"),
        )
        yield conn, webhook_id
        conn.execute("DELETE FROM exports.webhooks WHERE id = %s", (webhook_id,))


def _remaining(conn: psycopg.Connection, ids: list[uuid.UUID]) -> tuple[set[uuid.UUID], int]:
    kept = {
        row[0] for row in conn.execute("SELECT id FROM exports.webhook_deliveries WHERE id = ANY(%s)", (ids,))
    }
    attempts = conn.execute(
        "SELECT count(*) FROM exports.webhook_attempts WHERE delivery_id = ANY(%s)", (ids,)
    )
    return kept, attempts.fetchone()[0]  # type: ignore[index]


def _sweep(url: str, days: int) -> int:
    async def run() -> int:
        database = Database(url, pool_size=2)
        await database.open()
        try:
            return await DeliveryRetention(database, WebhookSettings(retention_days=days)).sweep_once()
        finally:
            await database.close()

    return asyncio.run(run())


def test_ended_deliveries_past_the_retention_go_with_their_attempts_and_the_rest_stay(
    system: System, log: tuple[psycopg.Connection, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, webhook_id = log
    old = [
        _delivery(conn, webhook_id, status, days)
        for status, days in [("delivered", 40)] * 4 + [("failed", 31)]
    ]
    kept = [
        _delivery(conn, webhook_id, "delivered", 29),  # ended within the retention
        _delivery(conn, webhook_id, "failed", 1),
        _delivery(conn, webhook_id, "pending", 60),  # still on its way, however old
    ]
    monkeypatch.setattr(retention, "BATCH", 2)  # five old ones: three batches, the last one short

    assert _sweep(system.database.url, days=30) >= len(old)
    assert _remaining(conn, old + kept) == (set(kept), len(kept))


def test_a_pass_waits_its_turn_while_another_replica_sweeps(
    system: System, log: tuple[psycopg.Connection, uuid.UUID]
) -> None:
    conn, webhook_id = log
    old = _delivery(conn, webhook_id, "delivered", 40)
    with psycopg.connect(system.database.url, autocommit=True) as other_replica:
        other_replica.execute(
            "SELECT pg_advisory_lock(hashtextextended('depot.exports.webhook_deliveries', 0))"
        )
        assert _sweep(system.database.url, days=30) == 0
        assert _remaining(conn, [old]) == ({old}, 1)
    assert _sweep(system.database.url, days=30) >= 1  # the other one's connection, and its lock, are gone
    assert _remaining(conn, [old]) == (set(), 0)
