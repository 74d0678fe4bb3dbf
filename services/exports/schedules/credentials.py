"""Destination credentials encrypted at rest (services/exports/sealing.py), so a dump of the exports
schema holds no usable S3 key. The keys come from `DEPOT_SCHEDULE_CREDENTIALS_KEYS`; unset, one is
derived from `DEPOT_SERVICE_SECRET`, and rotating the service secret then makes stored credentials
unreadable (their runs fail, saying so, until the schedule is created again).
"""

from __future__ import annotations

import json

from services.common.errors import FailedPrecondition
from services.exports.sealing import Sealer, Unreadable

_LABEL = b"depot schedule destination credentials"


class CredentialsUnreadable(FailedPrecondition):
    default_reason = "CREDENTIALS_UNREADABLE"


class CredentialBox:
    """Encrypts and decrypts one destination's credentials (a small JSON object)."""

    def __init__(self, *, keys: str, service_secret: str) -> None:
        self._sealer = Sealer(
            keys=keys,
            service_secret=service_secret,
            label=_LABEL,
            keys_setting="DEPOT_SCHEDULE_CREDENTIALS_KEYS",
        )

    def seal(self, secrets: dict[str, str]) -> bytes:
        return self._sealer.seal(json.dumps(secrets, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, str]:
        try:
            return dict(json.loads(self._sealer.open(sealed)))
        except Unreadable:
            raise CredentialsUnreadable(
                "the destination's stored credentials cannot be decrypted with this deployment's keys "
                "(DEPOT_SCHEDULE_CREDENTIALS_KEYS); create the schedule again"
            ) from None
