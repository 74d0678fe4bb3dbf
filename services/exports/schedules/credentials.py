"""Destination credentials encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256, from the pinned
`cryptography`), so a dump of the exports schema holds no usable S3 key.

The keys come from `DEPOT_SCHEDULE_CREDENTIALS_KEYS`: Fernet keys separated by commas, the first
encrypting and every one decrypting (rotation: put a new key first, keep the old ones until every
schedule has been written again). Unset, one key is derived from `DEPOT_SERVICE_SECRET` with
HKDF-SHA256, so a deployment that keeps its service secret needs nothing more; rotating the service
secret then makes stored credentials unreadable (their runs fail, saying so, until the schedule is
created again).
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.common.errors import FailedPrecondition

_INFO = b"depot schedule destination credentials"


class CredentialsUnreadable(FailedPrecondition):
    default_reason = "CREDENTIALS_UNREADABLE"


class CredentialBox:
    """Encrypts and decrypts one destination's credentials (a small JSON object)."""

    def __init__(self, *, keys: str, service_secret: str) -> None:
        fernets = [Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()]
        if not fernets:
            if not service_secret:
                raise ValueError("set DEPOT_SCHEDULE_CREDENTIALS_KEYS or DEPOT_SERVICE_SECRET")
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
                service_secret.encode()
            )
            fernets = [Fernet(base64.urlsafe_b64encode(derived))]
        self._fernet = MultiFernet(fernets)

    def seal(self, secrets: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(secrets, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, str]:
        try:
            return dict(json.loads(self._fernet.decrypt(sealed)))
        except InvalidToken:
            raise CredentialsUnreadable(
                "the destination's stored credentials cannot be decrypted with this deployment's keys "
                "(DEPOT_SCHEDULE_CREDENTIALS_KEYS); create the schedule again"
            ) from None
