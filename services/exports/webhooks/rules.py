"""What a valid subscription is: its URL's form, its event types, its description; and the
retry schedule. Plain rules: no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.common.errors import InvalidArgument, echo
from services.common.events.types import ALL as EVENT_TYPES
from services.common.limits import (
    MAX_WEBHOOK_DESCRIPTION_CHARS,
    MAX_WEBHOOK_EVENT_TYPES,
    MAX_WEBHOOK_URL_CHARS,
)

TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class Url:
    """An http(s) URL split into what a delivery connects to and what it asks for."""

    scheme: str
    host: str  # a name, or an IP address without brackets
    port: int
    target: str  # path and query, as sent in the request line

    @property
    def authority(self) -> str:
        """The Host header: the name (bracketed for IPv6) and a port unless it is the scheme's own."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str, *, field: str = "url") -> Url:
    """The URL's parts, or InvalidArgument saying what is wrong with it."""
    if len(url) > MAX_WEBHOOK_URL_CHARS:
        raise InvalidArgument(f"{field} must be at most {MAX_WEBHOOK_URL_CHARS} characters", field=field)
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidArgument(f"{field} must not contain spaces or control characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"{field} is not a valid URL: {exc}", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidArgument(f"{field} must be an http or https URL, got {echo(url)}", field=field)
    if not parts.hostname:
        raise InvalidArgument(f"{field} must name a host, got {echo(url)}", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument(f"{field} must not carry credentials", field=field)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Url(scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80), target)


def event_types(requested: list[str]) -> list[str]:
    """The subscription's event types: one or more of the contract's, each once, in order."""
    if not requested:
        raise InvalidArgument(f"events must name one or more of {', '.join(EVENT_TYPES)}", field="events")
    if len(requested) > MAX_WEBHOOK_EVENT_TYPES:
        raise InvalidArgument(f"events must name at most {MAX_WEBHOOK_EVENT_TYPES} types", field="events")
    unknown = [t for t in requested if t not in EVENT_TYPES]
    if unknown:
        raise InvalidArgument(
            f"events: unknown type {echo(unknown[0])}; known: {', '.join(EVENT_TYPES)}", field="events"
        )
    return list(dict.fromkeys(requested))


def description(text: str) -> str:
    if len(text) > MAX_WEBHOOK_DESCRIPTION_CHARS:
        raise InvalidArgument(
            f"description must be at most {MAX_WEBHOOK_DESCRIPTION_CHARS} characters, got {len(text)}",
            field="description",
        )
    return text


def retry_delay(attempts: int, *, base: float, ceiling: float) -> float:
    """Seconds before attempt `attempts + 1`: exponential from `base`, capped, jittered by a fifth
    so that deliveries failing together do not retry together."""
    delay = min(ceiling, base * 2 ** max(0, attempts - 1))
    return float(delay * random.uniform(0.8, 1.2))
