"""Which address a webhook delivery connects to: its URL's host resolved and every address checked
by services/common/addresses.py (the SSRF guard); the delivery then connects to an address checked
here, never to the name again (no DNS rebinding). Checked at create, at every attempt and on every
redirect."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.addresses import Refused, allowed_addresses, refusal
from services.exports.webhooks.rules import Url

__all__ = ["Refused", "Target", "refusal", "resolve"]


@dataclass(frozen=True)
class Target:
    url: Url
    address: str  # the checked IP address to connect to


async def resolve(url: Url, *, allow_private: bool) -> Target:
    """The address to connect to for `url`, once every address its host resolves to is allowed."""
    addresses = await allowed_addresses(url.host, url.port, allow_private=allow_private, reaching="webhooks")
    return Target(url, str(addresses[0]))
