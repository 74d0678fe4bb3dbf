"""The gRPC servicer of WebhooksService: proto in, one use case, proto out."""

from __future__ import annotations

from typing import Any

import grpc

from depot.exports.v1 import webhooks_pb2 as pb
from depot.exports.v1 import webhooks_pb2_grpc
from services.common.interceptors import current_principal
from services.common.timestamps import timestamp
from services.exports.webhooks.service import Webhooks

WEBHOOK_STATES = {"active": pb.WEBHOOK_STATE_ACTIVE, "disabled": pb.WEBHOOK_STATE_DISABLED}
DELIVERY_STATES = {
    "pending": pb.DELIVERY_STATE_PENDING,
    "delivered": pb.DELIVERY_STATE_DELIVERED,
    "failed": pb.DELIVERY_STATE_FAILED,
}


def webhook_message(row: Any, secret: str = "") -> pb.Webhook:
    return pb.Webhook(
        id=str(row.id),
        url=row.url,
        events=list(row.events),
        description=row.description,
        create_time=timestamp(row.created_at),
        state=WEBHOOK_STATES[row.status],
        disabled_reason=row.disabled_reason or "",
        secret=secret,
    )


def delivery_message(row: Any, attempts: list[Any]) -> pb.Delivery:
    message = pb.Delivery(
        id=str(row.id),
        webhook_id=str(row.webhook_id),
        event_id=row.event_id,
        event_type=row.event_type,
        subject=row.subject,
        state=DELIVERY_STATES[row.status],
        create_time=timestamp(row.created_at),
        attempts=[
            pb.DeliveryAttempt(
                attempt_no=a.attempt_no,
                attempt_time=timestamp(a.attempted_at),
                duration_ms=a.duration_ms,
                status_code=a.status_code or 0,
                error=a.error or "",
            )
            for a in attempts
        ],
    )
    if row.status == "pending" and row.next_attempt_at is not None:
        message.next_attempt_time.CopyFrom(timestamp(row.next_attempt_at))
    return message


class WebhooksHandlers(webhooks_pb2_grpc.WebhooksServiceServicer):
    def __init__(self, webhooks: Webhooks) -> None:
        self._webhooks = webhooks

    async def CreateWebhook(self, request: pb.CreateWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        row, secret = await self._webhooks.create(
            owner=current_principal().user_id,
            url=request.url,
            events=list(request.events),
            description=request.description,
        )
        return pb.CreateWebhookResponse(webhook=webhook_message(row, secret))

    async def GetWebhook(self, request: pb.GetWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        row = await self._webhooks.get(owner=current_principal().user_id, webhook_id=request.id)
        return pb.GetWebhookResponse(webhook=webhook_message(row))

    async def ListWebhooks(self, request: pb.ListWebhooksRequest, context: grpc.aio.ServicerContext) -> Any:
        page = await self._webhooks.list(
            owner=current_principal().user_id, size=request.page_size, token=request.page_token
        )
        return pb.ListWebhooksResponse(
            webhooks=[webhook_message(r) for r in page.items], next_page_token=page.next_page_token
        )

    async def DeleteWebhook(self, request: pb.DeleteWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        await self._webhooks.delete(owner=current_principal().user_id, webhook_id=request.id)
        return pb.DeleteWebhookResponse()

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        log = await self._webhooks.deliveries(
            owner=current_principal().user_id,
            webhook_id=request.webhook_id,
            size=request.page_size,
            token=request.page_token,
        )
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[delivery_message(r, log.attempts.get(r.id, [])) for r in log.page.items],
            next_page_token=log.page.next_page_token,
        )

    async def TestWebhook(self, request: pb.TestWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        delivery, attempts = await self._webhooks.test(
            owner=current_principal().user_id, webhook_id=request.id
        )
        return pb.TestWebhookResponse(delivery=delivery_message(delivery, list(attempts)))
