"""Sending deliveries: each claimed one is signed, POSTed (sender.py), its attempt logged, and then
delivered, retried later with backoff, or failed; a subscription that keeps failing is disabled.

Every exports replica runs a Dispatcher: it claims due deliveries from the shared queue (see
repository.py), sends up to `concurrency` at once, and wakes when this process queued new ones
or after the poll interval (for those another replica queued).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from services.common.background import Periodic
from services.common.trace_context import linked_span
from services.exports.webhooks import signing
from services.exports.webhooks.repository import WebhooksUnitOfWork
from services.exports.webhooks.rules import retry_delay
from services.exports.webhooks.secrets import SecretUnreadable, SigningSecrets
from services.exports.webhooks.sender import Outcome, Sender
from services.exports.webhooks.settings import WebhookSettings

log = logging.getLogger("depot.exports.webhooks")


class Dispatcher:
    """Claims, sends and records deliveries until stopped."""

    def __init__(
        self,
        *,
        unit_of_work: WebhooksUnitOfWork,
        sender: Sender,
        settings: WebhookSettings,
        secrets: SigningSecrets,
    ) -> None:
        self._uow = unit_of_work
        self._sender = sender
        self._secrets = secrets
        self._settings = settings
        self._worker = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._sending: set[asyncio.Task[None]] = set()
        self._loop = Periodic(self._claim, every=settings.poll_seconds, name="webhook_claim", until_idle=True)

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        """New deliveries were queued in this process."""
        self._loop.wake()

    async def stop(self) -> None:
        await self._loop.stop()
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)

    async def _claim(self) -> int:
        """Claims as many due deliveries as there are free slots and starts sending them."""
        free = self._settings.concurrency - len(self._sending)
        if free <= 0:  # every slot busy: wait for a send to end
            await asyncio.wait(set(self._sending), return_when=asyncio.FIRST_COMPLETED)
            return 1
        async with self._uow() as repo:
            rows = await repo.claim(
                worker=self._worker, limit=free, lease_seconds=self._settings.lease_seconds
            )
        for row in rows:
            task = asyncio.create_task(self._send(row))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return len(rows)

    async def _send(self, row: Any) -> None:
        """One claimed delivery, in a trace of its own (the claim that found it made none)."""
        try:
            with linked_span(
                "webhook.delivery", traceparent=None, attributes={"depot.delivery_id": str(row.id)}
            ):
                await self.attempt(row, worker=self._worker, counts=True)
        except Exception:
            log.exception("webhook_delivery_failed", extra={"delivery_id": str(row.id)})
        self._loop.wake()  # the next delivery of its subject may be due now

    async def attempt(self, row: Any, *, worker: str, counts: bool) -> Outcome:
        """Sends one claimed delivery and records the outcome. A test delivery (`counts` false) is
        one attempt that never retries and never counts towards disabling its subscription."""
        body = row.body.encode()
        attempted_at = datetime.now(UTC)
        try:
            secret = self._secrets.of(row)
        except SecretUnreadable as exc:  # never sent unsigned: a failed attempt that says why
            outcome = Outcome(status_code=None, error=str(exc), duration_ms=0)
        else:
            headers = signing.headers(
                secret=secret, message_id=row.event_id, timestamp=int(time.time()), body=body
            )
            outcome = await self._sender.post(row.url, body=body, headers=headers)
        if outcome.ok:
            async with self._uow() as repo:
                await repo.delivered(
                    delivery_id=row.id,
                    worker=worker,
                    attempt_no=row.attempts,
                    attempted_at=attempted_at,
                    duration_ms=outcome.duration_ms,
                    status_code=outcome.status_code,
                    counts=counts,
                )
        else:
            await self._failed(row, outcome, attempted_at=attempted_at, worker=worker, counts=counts)
        log.info(
            "webhook_attempt",
            extra={
                "delivery_id": str(row.id),
                "attempt": row.attempts,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            },
        )
        return outcome

    async def _failed(
        self, row: Any, outcome: Outcome, *, attempted_at: datetime, worker: str, counts: bool
    ) -> None:
        """Logs a failed attempt; then retries later, or fails the delivery (its last attempt, or a
        test's), and counts it against the subscription, which it may disable."""
        async with self._uow() as repo:
            await repo.record(
                delivery_id=row.id,
                attempt_no=row.attempts,
                attempted_at=attempted_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
            )
            if not counts or row.attempts >= self._settings.max_attempts:
                held = await repo.finish(delivery_id=row.id, worker=worker, status="failed")
            else:
                delay = retry_delay(
                    row.attempts,
                    base=self._settings.retry_base_seconds,
                    ceiling=self._settings.retry_max_seconds,
                )
                held = await repo.retry_later(delivery_id=row.id, worker=worker, delay=delay)
            if held is not None and counts:
                disabled = await repo.failed(
                    webhook_id=row.webhook_id,
                    disable_after=self._settings.disable_after_failures,
                    reason=outcome.error or "failed",
                )
                if disabled:
                    log.warning("webhook_disabled", extra={"webhook_id": str(row.webhook_id)})
