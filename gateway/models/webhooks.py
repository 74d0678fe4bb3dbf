"""Bodies of the webhook routes (gateway/routes/webhooks.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from depot.exports.v1 import webhooks_pb2 as pb
from gateway.models.common import Body, Choices, Out, Page, optional_time, rfc3339
from services.common.limits import (
    MAX_WEBHOOK_DESCRIPTION_CHARS,
    MAX_WEBHOOK_EVENT_TYPES,
    MAX_WEBHOOK_URL_CHARS,
)

WEBHOOK_STATES = Choices(pb.WebhookState, "WEBHOOK_STATE_")
DELIVERY_STATES = Choices(pb.DeliveryState, "DELIVERY_STATE_")


class WebhookIn(Body):
    url: str = Field(
        max_length=MAX_WEBHOOK_URL_CHARS, description="An http(s) URL that resolves to public addresses."
    )
    events: list[str] = Field(
        min_length=1,
        max_length=MAX_WEBHOOK_EVENT_TYPES,
        description="Event types: `prompt.created`, `prompt.version_created`, `prompt.best_changed`, "
        "`prompt.label_moved`, `prompt.deleted`, `feedback.created`, `file.created`, `file.deleted`, "
        "`export.completed`, `export.failed`.",
    )
    description: str = Field(default="", max_length=MAX_WEBHOOK_DESCRIPTION_CHARS)

    def to_proto(self) -> pb.CreateWebhookRequest:
        return pb.CreateWebhookRequest(url=self.url, events=self.events, description=self.description)


class WebhookOut(Out):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: str
    status: WEBHOOK_STATES.type  # type: ignore[valid-type]
    disabled_reason: str | None

    @staticmethod
    def fields(message: pb.Webhook) -> dict[str, Any]:
        return {
            "id": message.id,
            "url": message.url,
            "events": list(message.events),
            "description": message.description,
            "created_at": rfc3339(message.create_time),
            "status": WEBHOOK_STATES.name(message.state),
            "disabled_reason": message.disabled_reason or None,
        }


class WebhookCreated(WebhookOut):
    secret: str = Field(description="`whsec_<base64>`: the signing secret, shown this once.")

    @staticmethod
    def fields(message: pb.Webhook) -> dict[str, Any]:
        return {**WebhookOut.fields(message), "secret": message.secret}


class WebhookList(Page[WebhookOut]):
    repeated = "webhooks"


class AttemptOut(Out):
    attempt_no: int
    attempted_at: str
    duration_ms: int
    status_code: int | None = Field(description="The receiver's HTTP status; null when none came.")
    error: str | None

    @staticmethod
    def fields(message: pb.DeliveryAttempt) -> dict[str, Any]:
        return {
            "attempt_no": message.attempt_no,
            "attempted_at": rfc3339(message.attempt_time),
            "duration_ms": message.duration_ms,
            "status_code": message.status_code or None,
            "error": message.error or None,
        }


class DeliveryOut(Out):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    subject: str
    status: DELIVERY_STATES.type  # type: ignore[valid-type]
    created_at: str
    next_attempt_at: str | None
    attempts: list[AttemptOut]

    @staticmethod
    def fields(message: pb.Delivery) -> dict[str, Any]:
        return {
            "id": message.id,
            "webhook_id": message.webhook_id,
            "event_id": message.event_id,
            "event_type": message.event_type,
            "subject": message.subject,
            "status": DELIVERY_STATES.name(message.state),
            "created_at": rfc3339(message.create_time),
            "next_attempt_at": optional_time(message, "next_attempt_time"),
            "attempts": [AttemptOut.fields(a) for a in message.attempts],
        }


class DeliveryList(Page[DeliveryOut]):
    repeated = "deliveries"
