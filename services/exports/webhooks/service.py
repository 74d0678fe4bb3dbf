"""The webhook use cases: subscribe (the URL checked against SSRF), read, list, delete, read the
delivery log, send a test event. A subscription of another user is NotFound."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.ids import parse_id
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.exports.webhooks import rules, signing
from services.exports.webhooks.repository import WebhooksUnitOfWork
from services.exports.webhooks.secrets import SigningSecrets
from services.exports.webhooks.targets import Refused, resolve


class Attempts(Protocol):
    async def attempt(self, row: Any, *, worker: str, counts: bool) -> Any: ...


@dataclass
class DeliveryLog:
    """Deliveries with their attempts (delivery id → attempts in order)."""

    page: Page
    attempts: dict[uuid.UUID, list[Any]]


class Webhooks:
    """Subscriptions and their delivery log, for the calling user."""

    def __init__(
        self,
        *,
        unit_of_work: WebhooksUnitOfWork,
        attempts: Attempts,
        secrets: SigningSecrets,
        allow_private: bool,
        max_per_user: int,
    ) -> None:
        self._uow = unit_of_work
        self._attempts = attempts
        self._secrets = secrets
        self._allow_private = allow_private
        self._max_per_user = max_per_user

    async def create(self, *, owner: str, url: str, events: list[str], description: str) -> tuple[Any, str]:
        """A new subscription and its secret (returned this once)."""
        parsed = rules.parse_url(url)
        types = rules.event_types(events)
        text = rules.description(description)
        try:
            await resolve(parsed, allow_private=self._allow_private)
        except Refused as exc:
            raise InvalidArgument(
                f"url is refused: {exc}", field="url", reason="WEBHOOK_URL_REFUSED"
            ) from None
        secret = signing.new_secret()
        async with self._uow() as repo:
            if await repo.count(owner=owner) >= self._max_per_user:
                raise FailedPrecondition(
                    f"at most {self._max_per_user} webhooks per user; delete one first",
                    reason="WEBHOOK_LIMIT",
                )
            row = await repo.insert(
                owner=owner, url=url, events=types, description=text, secret_sealed=self._secrets.seal(secret)
            )
        return row, secret

    async def get(self, *, owner: str, webhook_id: str) -> Any:
        """One of the owner's subscriptions."""
        async with self._uow() as repo:
            return await _owned(repo, owner, webhook_id)

    async def list(self, *, owner: str, size: int, token: str) -> Page:
        """The owner's subscriptions, newest first."""
        limit = page_size(size)
        async with self._uow() as repo:
            rows = await repo.page(owner=owner, limit=limit + 1, after=decode_cursor(token))
        return paged(rows, limit)

    async def delete(self, *, owner: str, webhook_id: str) -> None:
        """Removes a subscription with its deliveries."""
        async with self._uow() as repo:
            if not await repo.delete(owner=owner, webhook_id=parse_id(webhook_id, "webhook")):
                raise NotFound(f"no webhook {webhook_id}")

    async def deliveries(self, *, owner: str, webhook_id: str, size: int, token: str) -> DeliveryLog:
        """A subscription's deliveries, newest first, with every attempt."""
        limit = page_size(size)
        async with self._uow() as repo:
            webhook = await _owned(repo, owner, webhook_id)
            rows = await repo.deliveries(webhook_id=webhook.id, limit=limit + 1, after=decode_cursor(token))
            page = paged(rows, limit)
            attempts = await repo.attempts(delivery_ids=[row.id for row in page.items])
        log: dict[uuid.UUID, list[Any]] = {}
        for attempt in attempts:
            log.setdefault(attempt.delivery_id, []).append(attempt)
        return DeliveryLog(page, log)

    async def test(self, *, owner: str, webhook_id: str) -> tuple[Any, Any]:
        """Sends a `webhook.test` event now; the delivery and its one attempt, as logged."""
        event_id = f"test_{uuid.uuid4().hex}"
        worker = f"test:{event_id}"
        async with self._uow() as repo:
            webhook = await _owned(repo, owner, webhook_id)
            body = orjson.dumps(
                {
                    "id": event_id,
                    "type": rules.TEST_EVENT,
                    "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "subject": f"webhooks/{webhook.id}",
                    "data": {"webhook_id": str(webhook.id)},
                }
            ).decode()
            row = await repo.insert_test(webhook_id=webhook.id, body=body, event_id=event_id, worker=worker)
        claimed = _Claimed(
            row.id, webhook.id, event_id, body, 1, webhook.url, webhook.secret, webhook.secret_sealed
        )
        await self._attempts.attempt(claimed, worker=worker, counts=False)
        async with self._uow() as repo:
            delivery = await repo.delivery(delivery_id=row.id)
            attempts = await repo.attempts(delivery_ids=[row.id])
        return delivery, attempts


@dataclass(frozen=True)
class _Claimed:
    """A delivery as the sender takes it (the shape of a claimed row)."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: str
    body: str
    attempts: int
    url: str
    secret: str
    secret_sealed: bytes | None


async def _owned(repo: Any, owner: str, webhook_id: str) -> Any:
    row = await repo.get(owner=owner, webhook_id=parse_id(webhook_id, "webhook"))
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    return row
