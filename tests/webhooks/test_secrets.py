"""Signing secrets at rest: sealed with the deployment's keys (the first of DEPOT_WEBHOOK_SECRET_KEYS
seals, any opens), never stored plain; a plain one from before sealing still signs and is sealed
when a worker starts; one no key opens fails its attempt, saying so, and nothing is sent. Every
delivery is checked with the `standardwebhooks` package."""

from __future__ import annotations

import base64
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook as Verifier

from tests.support.system import System, User
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import subscribe, wait_until

NEW_KEY, OLD_KEY = Fernet.generate_key(), Fernet.generate_key()
EXTRA_SETTINGS = {"DEPOT_WEBHOOK_SECRET_KEYS": f"{NEW_KEY.decode()},{OLD_KEY.decode()}"}


def stored(system: System, webhook_id: str) -> tuple[str, bytes | None]:
    with psycopg.connect(system.database.url) as conn:
        row = conn.execute(
            "SELECT secret, secret_sealed FROM exports.webhooks WHERE id = %s", (webhook_id,)
        ).fetchone()
    assert row is not None
    return row[0], None if row[1] is None else bytes(row[1])


def store(system: System, webhook_id: str, *, secret: str, sealed: bytes | None) -> None:
    with psycopg.connect(system.database.url) as conn:
        conn.execute(
            "UPDATE exports.webhooks SET secret = %s, secret_sealed = %s WHERE id = %s",
            (secret, sealed, webhook_id),
        )


def send_test_delivery(user: User, receiver: Receiver, hook: dict[str, Any], path: str) -> dict[str, Any]:
    """Sends the hook's test delivery; checks what arrived (if it did) against the hook's secret."""
    before = len(receiver.at(path))
    reply = user.http.post(f"/api/v1/webhooks/{hook['id']}/test")
    assert reply.status_code == 200, reply.text
    delivery: dict[str, Any] = reply.json()
    if delivery["status"] == "delivered":
        request = receiver.wait_for(path, before + 1)[-1]
        assert Verifier(hook["secret"]).verify(request.body, request.headers)["id"] == delivery["event_id"]
    return delivery


def test_a_secret_is_stored_sealed_with_the_first_key(
    hooked: System, carol: User, receiver: Receiver
) -> None:
    hook = subscribe(carol, receiver.url("/sealed"), ["prompt.created"])
    plain, sealed = stored(hooked, hook["id"])
    assert plain == "" and sealed is not None
    key = base64.b64decode(hook["secret"].removeprefix("whsec_"))
    assert hook["secret"].encode() not in sealed and key not in sealed
    assert Fernet(NEW_KEY).decrypt(sealed) == hook["secret"].encode()
    assert send_test_delivery(carol, receiver, hook, "/sealed")["status"] == "delivered"


def test_a_secret_sealed_with_an_older_key_still_signs(
    hooked: System, carol: User, receiver: Receiver
) -> None:
    hook = subscribe(carol, receiver.url("/older"), ["prompt.created"])
    store(hooked, hook["id"], secret="", sealed=Fernet(OLD_KEY).encrypt(hook["secret"].encode()))
    assert send_test_delivery(carol, receiver, hook, "/older")["status"] == "delivered"


def test_a_secret_no_key_opens_fails_its_attempt_and_nothing_is_sent(
    hooked: System, carol: User, receiver: Receiver
) -> None:
    hook = subscribe(carol, receiver.url("/unreadable"), ["prompt.created"])
    elsewhere = Fernet(Fernet.generate_key()).encrypt(hook["secret"].encode())
    store(hooked, hook["id"], secret="", sealed=elsewhere)
    delivery = send_test_delivery(carol, receiver, hook, "/unreadable")
    assert delivery["status"] == "failed", delivery
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and "cannot be decrypted" in attempt["error"], attempt
    assert "DEPOT_WEBHOOK_SECRET_KEYS" in attempt["error"]
    assert receiver.at("/unreadable") == []


def test_a_plain_secret_from_before_sealing_signs_and_a_worker_seals_it_at_start(
    hooked: System, carol: User, receiver: Receiver
) -> None:
    hook = subscribe(carol, receiver.url("/plain"), ["prompt.created"])
    store(hooked, hook["id"], secret=hook["secret"], sealed=None)
    assert send_test_delivery(carol, receiver, hook, "/plain")["status"] == "delivered"

    hooked.stack.restart_replica("exports")
    plain, sealed = wait_until(
        lambda: stored(hooked, hook["id"]), lambda row: row[1] is not None, what="the secret sealed"
    )
    assert plain == "" and sealed is not None and Fernet(NEW_KEY).decrypt(sealed) == hook["secret"].encode()
    # The gateway's channel finds the restarted process again after its reconnect backoff.
    wait_until(
        lambda: carol.http.get(f"/api/v1/webhooks/{hook['id']}").status_code,
        lambda status: status == 200,
        what="the gateway reaching the restarted exports service",
    )
    assert send_test_delivery(carol, receiver, hook, "/plain")["status"] == "delivered"
