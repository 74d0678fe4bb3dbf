"""The webhooks room's part of the exports server: its servicer, and (on a worker replica) the
event consumers and the delivery dispatcher, with what to close when the server stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from depot.exports.v1 import webhooks_pb2, webhooks_pb2_grpc
from services.common.auth import ServiceTokens
from services.common.channels import aio_channel
from services.common.database import Database
from services.common.grpc_server import Registration
from services.common.settings import SERVICE_NAMES, Settings
from services.exports.webhooks.consumer import Consumer
from services.exports.webhooks.delivery import Dispatcher
from services.exports.webhooks.handlers import WebhooksHandlers
from services.exports.webhooks.repository import WebhooksRepository
from services.exports.webhooks.retention import DeliveryRetention
from services.exports.webhooks.secrets import SigningSecrets, seal_plain_secrets
from services.exports.webhooks.sender import Sender
from services.exports.webhooks.service import Webhooks
from services.exports.webhooks.settings import WebhookSettings

log = logging.getLogger("depot.exports.webhooks")
FULL_NAME = webhooks_pb2.DESCRIPTOR.services_by_name["WebhooksService"].full_name
EVENTS_SERVICE = "depot.events.v1.EventsService"


def build_webhooks(
    settings: Settings, database: Database
) -> tuple[Registration, Callable[[], Awaitable[None]]]:
    """WebhooksService's registration, with its workers started; and what stops them."""
    hooks = WebhookSettings()
    unit_of_work = database.units_of_work(WebhooksRepository)
    sender = Sender(hooks)
    secrets = SigningSecrets(keys=hooks.secret_keys, service_secret=settings.service_secret)
    dispatcher = Dispatcher(unit_of_work=unit_of_work, sender=sender, settings=hooks, secrets=secrets)
    service = Webhooks(
        unit_of_work=unit_of_work,
        attempts=dispatcher,
        secrets=secrets,
        allow_private=hooks.allow_private,
        max_per_user=hooks.max_per_user,
    )
    tokens = ServiceTokens(settings, actor="exports")
    channels = {
        source: aio_channel(
            settings.address_for(source),
            service=EVENTS_SERVICE,
            idempotent_methods=(),
            max_message_bytes=settings.max_message_bytes,
        )
        for source in SERVICE_NAMES
    }
    consumers = [
        Consumer(
            source=source,
            channel=channel,
            database_url=settings.database_url_for("exports"),
            unit_of_work=unit_of_work,
            reads=database.reads(WebhooksRepository),
            tokens=tokens,
            queued=dispatcher.wake,
        )
        for source, channel in channels.items()
    ]
    retention = DeliveryRetention(database, hooks)
    sealing: asyncio.Task[int] | None = None
    if hooks.worker:
        sealing = asyncio.create_task(seal_plain_secrets(unit_of_work, secrets), name="webhook-secrets")
        sealing.add_done_callback(_log_failure)
        dispatcher.start()
        retention.start()
        for consumer in consumers:
            consumer.start()

    async def close() -> None:
        if sealing is not None:
            sealing.cancel()
        await asyncio.gather(*(c.stop() for c in consumers), dispatcher.stop(), retention.stop())
        await sender.close()
        await asyncio.gather(*(channel.close() for channel in channels.values()))

    registration = Registration(
        webhooks_pb2_grpc.add_WebhooksServiceServicer_to_server, WebhooksHandlers(service), FULL_NAME
    )
    return registration, close


def _log_failure(task: asyncio.Task[int]) -> None:
    """A sealing pass that failed leaves the plain secrets working; the next start seals them."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("webhook_secrets_not_sealed", extra={"error": repr(task.exception())[:300]})
