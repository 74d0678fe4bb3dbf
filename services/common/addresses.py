"""SSRF guard: which addresses a server-side request to a URL given by a user may reach (a webhook's
target, a schedule's S3 endpoint). A host is resolved here and every address it resolves to is
checked: link-local addresses (cloud metadata endpoints live there) never, and loopback, private and
other non-public ones only where the deployment's setting allows them (development, tests). A
caller that connects should connect to an address checked here, never to the name again, so a DNS
answer that changes between the check and the connect (rebinding) cannot slip a private one in."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_SECONDS = 5.0


class Refused(Exception):
    """The host may not be reached; the message says why, for a person."""


def refusal(address: IpAddress, *, allow_private: bool) -> str | None:
    """Why `address` may not be reached, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local:  # cloud metadata endpoints live here: never, whatever the setting
        return "a link-local address"
    if allow_private:
        return None
    for kind, flag in (
        ("a loopback address", address.is_loopback),
        ("an unspecified address", address.is_unspecified),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("a non-public address", not address.is_global),
    ):
        if flag:
            return kind
    return None


async def allowed_addresses(host: str, port: int, *, allow_private: bool, reaching: str) -> list[IpAddress]:
    """Every address `host` resolves to (an IP literal: itself), once each is allowed; Refused,
    saying which and that `reaching` (who would connect: "webhooks") may not reach it, otherwise."""
    try:
        addresses: list[IpAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(host, port)
    for address in addresses:
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            raise Refused(f"{host} resolves to {why} ({address}), not a public address {reaching} may reach")
    return addresses


async def _lookup(host: str, port: int) -> list[IpAddress]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise Refused(f"{host} did not resolve within {RESOLVE_TIMEOUT_SECONDS:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not addresses:
        raise Refused(f"{host} does not resolve to any address")
    return addresses
