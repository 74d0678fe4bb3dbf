"""Secrets encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256, from the pinned `cryptography`),
so a dump of the exports schema holds no usable one: a schedule's destination credentials, a
webhook's signing secret.

Each kind has its keys setting: Fernet keys separated by commas, the first encrypting and every one
decrypting (rotation: put a new key first, keep the old ones until everything sealed with them has
been written again). Unset, one key is derived from `DEPOT_SERVICE_SECRET` with HKDF-SHA256 and the
kind's own label, so a deployment that keeps its service secret needs nothing more; rotating the
service secret then makes what was sealed unreadable.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Unreadable(Exception):
    """Sealed bytes that none of this deployment's keys opens."""


class Sealer:
    """Seals and opens one kind of secret."""

    def __init__(self, *, keys: str, service_secret: str, label: bytes, keys_setting: str) -> None:
        fernets = [Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()]
        if not fernets:
            if not service_secret:
                raise ValueError(f"set {keys_setting} or DEPOT_SERVICE_SECRET")
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(
                service_secret.encode()
            )
            fernets = [Fernet(base64.urlsafe_b64encode(derived))]
        self._fernet = MultiFernet(fernets)

    def seal(self, secret: bytes) -> bytes:
        return self._fernet.encrypt(secret)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise Unreadable("no key of this deployment opens it") from None
