"""One delivery attempt over HTTP: a POST to an address the SSRF guard checked, redirects followed
by hand (each checked again), every part bounded (connect, the whole attempt, the answer's bytes).
Whatever happens is an Outcome, never an exception: the attempt is logged either way."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from services.common.errors import InvalidArgument
from services.exports.webhooks.rules import parse_url
from services.exports.webhooks.settings import WebhookSettings
from services.exports.webhooks.targets import Refused, Target, resolve

USER_AGENT = "Depot-Webhooks/1"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None


class Sender:
    """POSTs signed bodies; one per process, its HTTP client shared by every attempt."""

    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment may route around the address check
            timeout=httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds),
            # No reuse: a connection is made for one checked address and host name, never shared.
            limits=httpx.Limits(max_keepalive_connections=0, max_connections=settings.concurrency * 2),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, *, body: bytes, headers: dict[str, str]) -> Outcome:
        """One attempt, with its redirects, within the attempt's timeout."""
        started = time.monotonic()
        status, error = None, None
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                status, error = await self._follow(url, body, headers)
        except TimeoutError:
            error = f"no complete answer within {self._settings.timeout_seconds:g} s"
        except Refused as exc:
            error = f"refused: {exc}"
        except InvalidArgument as exc:
            error = f"refused: {exc.message}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration = int((time.monotonic() - started) * 1000)
        return Outcome(status, error[:MAX_ERROR_CHARS] if error else None, duration)

    async def _follow(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        for _ in range(self._settings.max_redirects + 1):
            target = await resolve(
                parse_url(url, field="redirect location"), allow_private=self._settings.allow_private
            )
            status, location = await self._send(target, body, headers)
            if 300 <= status < 400 and location:
                url = urljoin(url, location)
                continue
            if 200 <= status < 300:
                return status, None
            return status, f"HTTP {status}"
        return status, f"more than {self._settings.max_redirects} redirects"

    async def _send(self, target: Target, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        url = target.url
        host = f"[{target.address}]" if ":" in target.address else target.address
        request = self._client.build_request(
            "POST",
            f"{url.scheme}://{host}:{url.port}{url.target}",
            content=body,
            headers={
                **headers,
                "Host": url.authority,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            # TLS names and verifies the host the subscriber wrote, not the address.
            extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
        )
        response = await self._client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= self._settings.max_response_bytes:
                    break  # the answer's status is all that counts; the rest is dropped unread
        finally:
            await response.aclose()
        return response.status_code, response.headers.get("location")
