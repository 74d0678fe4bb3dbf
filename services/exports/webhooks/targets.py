"""SSRF guard: which addresses a webhook may reach. A URL's host is resolved here and every address
it resolves to is checked; the delivery then connects to an address checked here, never to the
name again, so a DNS answer that changes between the check and the connect (rebinding) cannot
slip a private address in. Checked at create, at every attempt and on every redirect."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from services.exports.webhooks.rules import Url

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_SECONDS = 5.0


class Refused(Exception):
    """The target may not be reached; the message says why, for a person."""


@dataclass(frozen=True)
class Target:
    url: Url
    address: str  # the checked IP address to connect to


def refusal(address: IpAddress, *, allow_private: bool) -> str | None:
    """Why an address may not be a webhook target, or None when it may."""
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


async def resolve(url: Url, *, allow_private: bool) -> Target:
    """The address to connect to for `url`, once every address its host resolves to is allowed."""
    try:
        literal: IpAddress | None = ipaddress.ip_address(url.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        addresses = await _lookup(url.host, url.port)
    for address in addresses:
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            raise Refused(f"{url.host} resolves to {why} ({address}), which webhooks may not reach")
    return Target(url, str(addresses[0]))


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
