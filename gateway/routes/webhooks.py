"""REST routes of webhook subscriptions and their delivery log (DESIGN.md "Labels, diffs and
events"); the WebhooksService of the exports service does the work, bodies are in
gateway/models/webhooks.py."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from depot.exports.v1 import webhooks_pb2 as pb
from depot.exports.v1 import webhooks_pb2_grpc
from gateway.auth import bearer_token
from gateway.models.webhooks import (
    DeliveryList,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from gateway.responses import Json
from gateway.routes.shared import ERRORS, PageSize, PageToken, upstream

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
CREATE_ERRORS = {**ERRORS, 412: ERRORS[400]}


def webhooks(request: Request) -> webhooks_pb2_grpc.WebhooksServiceStub:
    """WebhooksService, served by the exports service beside ExportsService."""
    return upstream(request).stub(webhooks_pb2_grpc.WebhooksServiceStub)


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, responses=CREATE_ERRORS)
async def create_webhook(body: WebhookIn, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Subscribes a URL to event types; the answer carries the signing secret, shown this once."""
    reply = await upstream(request).call(webhooks(request).CreateWebhook, body.to_proto(), token)
    return Json(WebhookCreated.from_proto(reply.webhook).model_dump(), status_code=201)


@router.get("/webhooks", response_model=WebhookList, responses=ERRORS)
async def list_webhooks(
    request: Request, page_size: PageSize = 0, page_token: str = PageToken, token: str = Depends(bearer_token)
) -> Response:
    """The caller's subscriptions, newest first."""
    message = pb.ListWebhooksRequest(page_size=page_size, page_token=page_token)
    reply = await upstream(request).call(webhooks(request).ListWebhooks, message, token)
    return Json(WebhookList.from_proto(reply).model_dump())


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, responses=ERRORS)
async def get_webhook(webhook_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """One subscription (never its secret), with its status and why it was disabled."""
    reply = await upstream(request).call(
        webhooks(request).GetWebhook, pb.GetWebhookRequest(id=webhook_id), token
    )
    return Json(WebhookOut.from_proto(reply.webhook).model_dump())


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=ERRORS)
async def delete_webhook(webhook_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Removes a subscription, its pending deliveries and its delivery log."""
    await upstream(request).call(
        webhooks(request).DeleteWebhook, pb.DeleteWebhookRequest(id=webhook_id), token
    )
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryList, responses=ERRORS)
async def list_deliveries(
    webhook_id: str,
    request: Request,
    page_size: PageSize = 0,
    page_token: str = PageToken,
    token: str = Depends(bearer_token),
) -> Response:
    """The subscription's deliveries, newest first, each with every attempt (status code or error,
    duration, time)."""
    message = pb.ListWebhookDeliveriesRequest(
        webhook_id=webhook_id, page_size=page_size, page_token=page_token
    )
    reply = await upstream(request).call(webhooks(request).ListWebhookDeliveries, message, token)
    return Json(DeliveryList.from_proto(reply).model_dump())


@router.post("/webhooks/{webhook_id}/test", response_model=DeliveryOut, responses=ERRORS)
async def test_webhook(webhook_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Sends a `webhook.test` event now: one attempt, logged; the answer is the delivery with it."""
    reply = await upstream(request).call(
        webhooks(request).TestWebhook, pb.TestWebhookRequest(id=webhook_id), token
    )
    return Json(DeliveryOut.from_proto(reply.delivery).model_dump())
