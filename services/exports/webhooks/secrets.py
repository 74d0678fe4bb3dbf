"""Signing secrets at rest: sealed with the deployment's keys (services/exports/sealing.py), opened
for each attempt. `DEPOT_WEBHOOK_SECRET_KEYS` holds the keys; unset, one is derived from
`DEPOT_SERVICE_SECRET`. A subscription whose secret no key opens (the keys, or the service secret,
changed) fails its attempts, saying so, and nothing is sent unsigned.

Rows written before secrets were sealed hold the plain secret; they sign with it until a worker
replica seals them at start (`seal_plain_secrets`), each row once whichever replicas race.
"""

from __future__ import annotations

import logging
from typing import Any

from services.exports.sealing import Sealer, Unreadable

log = logging.getLogger("depot.exports.webhooks")
_LABEL = b"depot webhook signing secrets"
SEAL_BATCH = 500  # rows read and sealed in one transaction
UNREADABLE = (
    "the subscription's signing secret cannot be decrypted with this deployment's keys"
    " (DEPOT_WEBHOOK_SECRET_KEYS, or DEPOT_SERVICE_SECRET when unset); create the webhook again"
)


class SecretUnreadable(Exception):
    """No key of this deployment opens the subscription's sealed secret."""


class SigningSecrets:
    """Seals a new subscription's secret; gives the secret an attempt signs with."""

    def __init__(self, *, keys: str, service_secret: str) -> None:
        self._sealer = Sealer(
            keys=keys, service_secret=service_secret, label=_LABEL, keys_setting="DEPOT_WEBHOOK_SECRET_KEYS"
        )

    def seal(self, secret: str) -> bytes:
        return self._sealer.seal(secret.encode())

    def of(self, row: Any) -> str:
        """The secret of a row with `secret_sealed` and `secret` (plain, from before sealing)."""
        if row.secret_sealed is None:
            return str(row.secret)
        try:
            return self._sealer.open(bytes(row.secret_sealed)).decode()
        except Unreadable:
            raise SecretUnreadable(UNREADABLE) from None


async def seal_plain_secrets(unit_of_work: Any, secrets: SigningSecrets) -> int:
    """Seals every secret still stored plain, a batch at a time (a sealed row leaves the query,
    whichever replica sealed it); answers how many this call sealed."""
    sealed = 0
    while True:
        async with unit_of_work() as repo:
            plain = await repo.plain_secrets(limit=SEAL_BATCH)
            for webhook_id, secret in plain:
                sealed += await repo.seal_secret(webhook_id=webhook_id, sealed=secrets.seal(secret))
        if len(plain) < SEAL_BATCH:
            break
    if sealed:
        log.info("webhook_secrets_sealed", extra={"count": sealed})
    return sealed
