"""The webhook rules without I/O: which addresses a webhook may reach, what a valid URL and event
list are, the retry schedule, and the signature (against the standardwebhooks package)."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from services.common.errors import InvalidArgument
from services.exports.webhooks import rules, signing
from services.exports.webhooks.targets import Refused, refusal, resolve


@pytest.mark.parametrize(
    ("address", "private_allowed", "refused"),
    [
        ("169.254.169.254", True, "a link-local address"),
        ("fe80::1", True, "a link-local address"),
        ("::ffff:169.254.169.254", True, "a link-local address"),
        ("127.0.0.1", False, "a loopback address"),
        ("::1", False, "a loopback address"),
        ("10.0.0.1", False, "a private address"),
        ("192.168.1.1", False, "a private address"),
        ("172.16.0.1", False, "a private address"),
        ("::ffff:10.0.0.1", False, "a private address"),
        ("100.64.0.1", False, "a non-public address"),
        ("0.0.0.0", False, "an unspecified address"),
        ("224.0.0.1", False, "a multicast address"),
        ("240.0.0.1", False, "a private address"),
        ("127.0.0.1", True, None),
        ("10.0.0.1", True, None),
        ("93.184.215.14", False, None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False, None),
    ],
)
def test_which_addresses_a_webhook_may_reach(
    address: str, private_allowed: bool, refused: str | None
) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=private_allowed) == refused


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    with pytest.raises(Refused, match="loopback"):
        asyncio.run(resolve(rules.parse_url("http://localhost:8080/x"), allow_private=False))
    target = asyncio.run(resolve(rules.parse_url("http://localhost:8080/x"), allow_private=True))
    assert ipaddress.ip_address(target.address).is_loopback


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/", "http or https"),
        ("http://user:pw@example.com/", "credentials"),
        ("http:///nohost", "host"),
        ("http://example.com:99999/", "valid URL"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_urls_that_are_refused_say_why(url: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        rules.parse_url(url)


def test_a_url_keeps_what_the_request_line_and_host_header_need() -> None:
    url = rules.parse_url("HTTPS://Example.COM:8443/hooks/in?x=1")
    assert (url.scheme, url.host, url.port, url.target, url.authority) == (
        "https",
        "example.com",
        8443,
        "/hooks/in?x=1",
        "example.com:8443",
    )
    assert rules.parse_url("http://[::1]/").authority == "[::1]"


def test_event_types_are_the_contracts_each_once() -> None:
    assert rules.event_types(["file.deleted", "prompt.created", "file.deleted"]) == [
        "file.deleted",
        "prompt.created",
    ]
    with pytest.raises(InvalidArgument, match=r"prompt\.eaten"):
        rules.event_types(["prompt.eaten"])
    with pytest.raises(InvalidArgument, match="one or more"):
        rules.event_types([])


def test_retries_back_off_exponentially_up_to_the_ceiling() -> None:
    delays = [rules.retry_delay(n, base=5, ceiling=60) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        assert 0.8 * min(60, 5 * 2 ** (n - 1)) <= delay <= 1.2 * min(60, 5 * 2 ** (n - 1))


def test_the_signature_is_what_standard_webhooks_verifies() -> None:
    secret = signing.new_secret()
    body = b'{"id":"evt_1","type":"prompt.created"}'
    headers = signing.headers(secret=secret, message_id="evt_1", timestamp=int(time.time()), body=body)
    assert Verifier(secret).verify(body, headers) == {"id": "evt_1", "type": "prompt.created"}
    tampered = {**headers, "webhook-id": "evt_2"}
    with pytest.raises(Exception, match="signature"):
        Verifier(secret).verify(body, tampered)
