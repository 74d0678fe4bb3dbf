"""Every SQL statement of the webhooks room. Statements only: the caller's unit of work commits.

Deliveries are a queue: a sender claims due ones with FOR UPDATE SKIP LOCKED under a lease (so
replicas share the work and never take the same row), and never one whose subject has an
earlier delivery still pending for the same subscription (so one prompt's events arrive in order).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from services.common.database import Query, Session
from services.exports.webhooks.models import Attempt, Cursor, Delivery, Webhook

WEBHOOK_COLUMNS = tuple(c for c in Webhook.__table__.c if c.name not in ("secret", "secret_sealed"))
DELIVERY_COLUMNS = tuple(c for c in Delivery.__table__.c if c.name != "body")
ATTEMPT_COLUMNS = tuple(Attempt.__table__.c)


@dataclass(frozen=True)
class Event:
    """An event as a delivery carries it: its id, type, subject, owner, exact JSON body and time."""

    id: str
    type: str
    subject: str
    owner: str
    body: str
    created_at: datetime


# The batch of events in order (WITH ORDINALITY), joined to the subscriptions that want each one;
# rows are inserted, and so numbered (seq), in that order.
FAN_OUT = Query(
    text(
        """
    INSERT INTO exports.webhook_deliveries (id, webhook_id, event_id, event_type, subject, body)
    SELECT gen_random_uuid(), w.id, e.id, e.type, e.subject, e.body
      FROM unnest(
             CAST(:ids AS text[]), CAST(:types AS text[]), CAST(:subjects AS text[]),
             CAST(:owners AS text[]), CAST(:bodies AS text[]), CAST(:times AS timestamptz[])
           ) WITH ORDINALITY AS e(id, type, subject, owner, body, created_at, n)
      JOIN exports.webhooks w
        ON w.owner = e.owner AND w.status = 'active' AND e.type = ANY(w.events)
       AND w.created_at <= e.created_at
     ORDER BY e.n, w.id
    ON CONFLICT (webhook_id, event_id) DO NOTHING
    """
    )
)


# The (owner, type) pairs some active subscription of these owners wants: a batch's events that
# match none are neither turned into bodies nor sent to FAN_OUT.
WANTED = Query(
    text(
        """
    SELECT DISTINCT w.owner, t.type
      FROM exports.webhooks w CROSS JOIN LATERAL unnest(w.events) AS t(type)
     WHERE w.owner = ANY(CAST(:owners AS text[])) AND w.status = 'active'
    """
    )
)


# Hot statements, built and compiled once (see services.common.database.Query).
CLAIM = Query(
    text(
        """
        WITH due AS (
          SELECT d.id
            FROM exports.webhook_deliveries d
            JOIN exports.webhooks w ON w.id = d.webhook_id
           WHERE d.status = 'pending' AND d.next_attempt_at <= now()
             AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
             AND w.status = 'active'
             AND NOT EXISTS (
                   SELECT 1 FROM exports.webhook_deliveries e
                    WHERE e.webhook_id = d.webhook_id AND e.subject = d.subject
                      AND e.status = 'pending' AND e.seq < d.seq)
           ORDER BY d.next_attempt_at
           LIMIT :limit
             FOR UPDATE OF d SKIP LOCKED
        ), claimed AS (
          UPDATE exports.webhook_deliveries d
             SET lease_owner = :worker,
                 lease_expires_at = now() + make_interval(secs => :lease),
                 attempts = d.attempts + 1
            FROM due
           WHERE d.id = due.id
          RETURNING d.id, d.webhook_id, d.event_id, d.body, d.attempts
        )
        SELECT c.id, c.webhook_id, c.event_id, c.body, c.attempts, w.url, w.secret, w.secret_sealed
          FROM claimed c JOIN exports.webhooks w ON w.id = c.webhook_id
        """
    )
)
# Oldest first, a batch at a time (retention.py); attempts go with their delivery (ON DELETE CASCADE).
DELETE_ENDED = Query(
    text(
        """
        DELETE FROM exports.webhook_deliveries
         WHERE id IN (SELECT id FROM exports.webhook_deliveries
                       WHERE status <> 'pending' AND ended_at < :before
                       ORDER BY ended_at LIMIT :batch)
        """
    )
)
DELIVERED = Query(
    text(
        """
        WITH attempt AS (
          INSERT INTO exports.webhook_attempts
                 (delivery_id, attempt_no, attempted_at, duration_ms, status_code)
          VALUES (:delivery_id, :attempt_no, :attempted_at, :duration_ms, :status_code)
        ), done AS (
          UPDATE exports.webhook_deliveries
             SET status = 'delivered', next_attempt_at = NULL, lease_owner = NULL,
                 lease_expires_at = NULL, ended_at = now()
           WHERE id = :delivery_id AND status = 'pending' AND lease_owner = :worker
          RETURNING webhook_id
        )
        UPDATE exports.webhooks SET consecutive_failures = 0, updated_at = now()
         WHERE id IN (SELECT webhook_id FROM done) AND consecutive_failures > 0 AND :counts
        """
    )
)


ADVANCE = Query(
    text(
        """
        INSERT INTO exports.webhook_cursors (source, cursor) VALUES (:source, :cursor)
        ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = now()
        """
    )
)


def seconds(value: float) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, literal(value))


class WebhooksRepository:
    """Statements of one unit of work, on one connection."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # Subscriptions --------------------------------------------------------------------------

    async def count(self, *, owner: str) -> int:
        """How many subscriptions the owner has, counted under the owner's lock of them (held until
        the transaction ends), so that concurrent creates cannot all find room for one more."""
        await self.session.lock(f"depot.exports.webhooks:{owner}")
        stmt = select(func.count()).select_from(Webhook).where(Webhook.owner == owner)
        return int((await self.session.execute(stmt)).scalar_one())

    async def insert(
        self, *, owner: str, url: str, events: list[str], description: str, secret_sealed: bytes
    ) -> Any:
        """Stores a subscription with its sealed secret; answers its row (without the secret)."""
        stmt = (
            insert(Webhook)
            .values(
                id=uuid.uuid4(),
                owner=owner,
                url=url,
                events=events,
                description=description,
                secret="",
                secret_sealed=secret_sealed,
            )
            .returning(*WEBHOOK_COLUMNS)
        )
        return (await self.session.execute(stmt)).one()

    async def get(self, *, owner: str, webhook_id: uuid.UUID) -> Any | None:
        """One of the owner's subscriptions, with its secret (sealed, or plain from before sealing)."""
        stmt = select(*WEBHOOK_COLUMNS, Webhook.secret, Webhook.secret_sealed).where(
            Webhook.id == webhook_id, Webhook.owner == owner
        )
        return (await self.session.execute(stmt)).first()

    async def plain_secrets(self, *, limit: int) -> Sequence[Any]:
        """(id, secret) of up to `limit` subscriptions whose secret is not sealed yet (from before sealing)."""
        stmt = select(Webhook.id, Webhook.secret).where(Webhook.secret_sealed.is_(None)).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def seal_secret(self, *, webhook_id: uuid.UUID, sealed: bytes) -> int:
        """Replaces a plain secret by its sealed form, unless another replica did first; answers 1 or 0."""
        stmt = (
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.secret_sealed.is_(None))
            .values(secret="", secret_sealed=sealed)
        )
        return (await self.session.execute(stmt)).rowcount

    async def page(
        self, *, owner: str, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Any]:
        """The owner's subscriptions, newest first."""
        stmt = select(*WEBHOOK_COLUMNS).where(Webhook.owner == owner)
        if after is not None:
            stmt = stmt.where(tuple_(Webhook.created_at, Webhook.id) < tuple_(*after))
        stmt = stmt.order_by(Webhook.created_at.desc(), Webhook.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def delete(self, *, owner: str, webhook_id: uuid.UUID) -> bool:
        """Removes a subscription with its deliveries and attempts; False when there was none."""
        stmt = delete(Webhook).where(Webhook.id == webhook_id, Webhook.owner == owner).returning(Webhook.id)
        return (await self.session.execute(stmt)).first() is not None

    # Deliveries: queueing and reading --------------------------------------------------------

    async def wanted(self, *, owners: Sequence[str]) -> set[tuple[str, str]]:
        """The (owner, event type) pairs that an active subscription of one of `owners` wants."""
        rows = (await self.session.execute(WANTED, {"owners": list(owners)})).all()
        return {(row.owner, row.type) for row in rows}

    async def fan_out(self, *, events: Sequence[Event]) -> int:
        """Queues each event for every active subscription of its owner to its type that existed when
        it happened, in the events' order (so one subject's deliveries go out in order); an event
        seen again is queued once. One statement for the whole batch. Answers how many were queued."""
        if not events:
            return 0
        params = {
            "ids": [e.id for e in events],
            "types": [e.type for e in events],
            "subjects": [e.subject for e in events],
            "owners": [e.owner for e in events],
            "bodies": [e.body for e in events],
            "times": [e.created_at for e in events],
        }
        return (await self.session.execute(FAN_OUT, params)).rowcount

    async def insert_test(self, *, webhook_id: uuid.UUID, body: str, event_id: str, worker: str) -> Any:
        """A test delivery, already claimed by `worker` for its one attempt."""
        stmt = (
            insert(Delivery)
            .values(
                id=uuid.uuid4(),
                webhook_id=webhook_id,
                event_id=event_id,
                event_type="webhook.test",
                subject=f"webhooks/{webhook_id}",
                body=body,
                attempts=1,
                lease_owner=worker,
                lease_expires_at=func.now() + seconds(3600),
            )
            .returning(*DELIVERY_COLUMNS)
        )
        return (await self.session.execute(stmt)).one()

    async def deliveries(
        self, *, webhook_id: uuid.UUID, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> Sequence[Any]:
        """A subscription's deliveries, newest first."""
        stmt = select(*DELIVERY_COLUMNS).where(Delivery.webhook_id == webhook_id)
        if after is not None:
            stmt = stmt.where(tuple_(Delivery.created_at, Delivery.id) < tuple_(*after))
        stmt = stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def delivery(self, *, delivery_id: uuid.UUID) -> Any:
        """One delivery by id."""
        stmt = select(*DELIVERY_COLUMNS).where(Delivery.id == delivery_id)
        return (await self.session.execute(stmt)).one()

    async def attempts(self, *, delivery_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
        """The attempts of these deliveries, in the order made."""
        if not delivery_ids:
            return []
        stmt = (
            select(*ATTEMPT_COLUMNS)
            .where(
                Attempt.delivery_id
                == any_(bindparam("ids", list(delivery_ids), type_=ARRAY(UUID(as_uuid=True))))
            )
            .order_by(Attempt.delivery_id, Attempt.attempt_no)
        )
        return (await self.session.execute(stmt)).all()

    # Deliveries: sending -------------------------------------------------------------------

    async def delete_ended(self, *, before: datetime, batch: int) -> int:
        """Deletes up to `batch` deliveries that ended before `before`, oldest first; answers how many."""
        return (await self.session.execute(DELETE_ENDED, {"before": before, "batch": batch})).rowcount

    async def claim(self, *, worker: str, limit: int, lease_seconds: float) -> Sequence[Any]:
        """Takes up to `limit` due deliveries of active subscriptions, each the earliest pending one of
        its subject, with the URL and secret to send them with."""
        params = {"worker": worker, "limit": limit, "lease": lease_seconds}
        return (await self.session.execute(CLAIM, params)).all()

    async def delivered(
        self,
        *,
        delivery_id: uuid.UUID,
        worker: str,
        attempt_no: int,
        attempted_at: datetime,
        duration_ms: int,
        status_code: int | None,
        counts: bool,
    ) -> None:
        """Logs a successful attempt, ends the delivery (when the worker still holds it) and, when the
        attempt `counts`, ends its subscription's run of failures: one round trip."""
        params = {
            "delivery_id": delivery_id,
            "worker": worker,
            "attempt_no": attempt_no,
            "attempted_at": attempted_at,
            "duration_ms": duration_ms,
            "status_code": status_code,
            "counts": counts,
        }
        await self.session.execute(DELIVERED, params)

    async def record(
        self,
        *,
        delivery_id: uuid.UUID,
        attempt_no: int,
        attempted_at: datetime,
        duration_ms: int,
        status_code: int | None,
        error: str | None,
    ) -> None:
        """Logs one attempt."""
        await self.session.execute(
            insert(Attempt).values(
                delivery_id=delivery_id,
                attempt_no=attempt_no,
                attempted_at=attempted_at,
                duration_ms=duration_ms,
                status_code=status_code,
                error=error,
            )
        )

    async def finish(self, *, delivery_id: uuid.UUID, worker: str, status: str) -> Any | None:
        """Ends a delivery the worker holds as delivered or failed; None when its lease was lost."""
        stmt = (
            _held(delivery_id, worker)
            .values(
                status=status,
                next_attempt_at=None,
                lease_owner=None,
                lease_expires_at=None,
                ended_at=func.now(),
            )
            .returning(Delivery.webhook_id)
        )
        return (await self.session.execute(stmt)).first()

    async def retry_later(self, *, delivery_id: uuid.UUID, worker: str, delay: float) -> Any | None:
        """Gives a held delivery back, due again after `delay` seconds; None when its lease was lost."""
        stmt = (
            _held(delivery_id, worker)
            .values(next_attempt_at=func.now() + seconds(delay), lease_owner=None, lease_expires_at=None)
            .returning(Delivery.webhook_id)
        )
        return (await self.session.execute(stmt)).first()

    async def failed(self, *, webhook_id: uuid.UUID, disable_after: int, reason: str) -> bool:
        """Counts a failed attempt against the subscription, and disables it (failing its pending
        deliveries) when it has failed `disable_after` times in a row. True when this disabled it."""
        counted = (
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(consecutive_failures=Webhook.consecutive_failures + 1, updated_at=func.now())
            .returning(Webhook.consecutive_failures, Webhook.status)
        )
        row = (await self.session.execute(counted)).first()
        if row is None or row.status != "active" or row.consecutive_failures < disable_after:
            return False
        disable = (
            update(Webhook)
            .where(Webhook.id == webhook_id)
            .values(
                status="disabled",
                disabled_reason=f"{row.consecutive_failures} consecutive failed attempts; the last: {reason}",
            )
        )
        await self.session.execute(disable)
        pending = (
            update(Delivery)
            .where(Delivery.webhook_id == webhook_id, Delivery.status == "pending")
            .values(status="failed", next_attempt_at=None, ended_at=func.now())
        )
        await self.session.execute(pending)
        return True

    # Consumer cursors ------------------------------------------------------------------------

    async def cursor(self, *, source: str) -> str:
        """Where the consumer of `source` resumes; empty at the start of its stream."""
        stmt = select(Cursor.cursor).where(Cursor.source == source)
        return str((await self.session.execute(stmt)).scalar() or "")

    async def advance(self, *, source: str, cursor: str) -> None:
        """Records that every event of `source` up to `cursor` is queued."""
        await self.session.execute(ADVANCE, {"source": source, "cursor": cursor})


def _held(delivery_id: uuid.UUID, worker: str) -> Any:
    return update(Delivery).where(
        and_(Delivery.id == delivery_id, Delivery.status == "pending", Delivery.lease_owner == worker)
    )


WebhooksUnitOfWork = Callable[[], AbstractAsyncContextManager[WebhooksRepository]]
