"""The delivery log's retention: deliveries that ended (delivered or failed) more than
DEPOT_WEBHOOK_RETENTION_DAYS ago are deleted with their attempts, oldest first and a batch per
transaction, by one replica at a time; a pending delivery stays whatever its age. Without it every
event a subscription wanted would stay in the log forever."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from services.common.background import Periodic, delete_in_batches, one_replica_at_a_time
from services.common.database import Database
from services.exports.webhooks.repository import WebhooksRepository
from services.exports.webhooks.settings import WebhookSettings

log = logging.getLogger("depot.exports.webhooks")
BATCH = 1000


class DeliveryRetention:
    """The periodic pass; `start()`, then `stop()`."""

    def __init__(self, database: Database, settings: WebhookSettings) -> None:
        self._database = database
        self._days = settings.retention_days
        self._periodic = Periodic(
            self.sweep_once,
            every=settings.retention_interval_seconds if settings.retention_days > 0 else 0,
            name="webhook_deliveries_retention",
            wait_first=True,
        )

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def sweep_once(self) -> int:
        """One pass (if no other replica is running one); answers how many deliveries went."""
        before = datetime.now(UTC) - timedelta(days=self._days)
        async with one_replica_at_a_time(self._database, "depot.exports.webhook_deliveries") as held:
            if not held:
                return 0
            removed = await delete_in_batches(
                self._database,
                lambda session: WebhooksRepository(session).delete_ended(before=before, batch=BATCH),
                batch=BATCH,
            )
        if removed:
            log.info("webhook_deliveries_swept", extra={"deliveries": removed, "days": self._days})
        return removed
