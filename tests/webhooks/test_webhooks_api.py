"""Webhook subscriptions through the gateway: the secret shown once, refused URLs (SSRF), another
user's webhook, and the test delivery signed the Standard Webhooks way (checked with the
`standardwebhooks` package, an implementation independent of ours)."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.support.system import User
from tests.webhooks.receiver import Behaviour, Receiver
from tests.webhooks.support import subscribe


def test_create_answers_the_secret_once_and_reads_never_again(carol: User, receiver: Receiver) -> None:
    created = subscribe(carol, receiver.url("/once"), ["prompt.created", "prompt.created", "file.deleted"])
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["prompt.created", "file.deleted"]
    assert created["status"] == "active" and created["disabled_reason"] is None
    read = carol.http.get(f"/api/v1/webhooks/{created['id']}").json()
    listed = carol.http.get("/api/v1/webhooks").json()["items"]
    assert "secret" not in read and read["url"] == created["url"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "javascript:alert(1)", "file:///etc/passwd", "http://", "not a url"],
)
def test_a_url_that_is_not_http_is_refused(carol: User, url: str) -> None:
    reply = carol.http.post("/api/v1/webhooks", json={"url": url, "events": ["prompt.created"]})
    assert reply.status_code == 400, reply.text
    assert "url" in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook", "http://[::ffff:169.254.1.1]/"],
)
def test_link_local_is_refused_even_where_private_targets_are_allowed(carol: User, url: str) -> None:
    reply = carol.http.post("/api/v1/webhooks", json={"url": url, "events": ["prompt.created"]})
    assert reply.status_code == 400, reply.text
    assert "link-local" in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://10.1.2.3/", "http://localhost/", "http://[::1]/"]
)
def test_private_and_loopback_targets_are_refused_by_default(alice: User, url: str) -> None:
    # `alice` lives on the default system, where DEPOT_WEBHOOK_ALLOW_PRIVATE is unset.
    reply = alice.http.post("/api/v1/webhooks", json={"url": url, "events": ["prompt.created"]})
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]["message"]
    assert "loopback" in message or "private" in message, message


def test_unknown_event_types_are_refused_by_name(carol: User, receiver: Receiver) -> None:
    reply = carol.http.post("/api/v1/webhooks", json={"url": receiver.url("/x"), "events": ["prompt.eaten"]})
    assert reply.status_code == 400 and "prompt.eaten" in reply.text
    empty = carol.http.post("/api/v1/webhooks", json={"url": receiver.url("/x"), "events": []})
    assert empty.status_code == 400


def test_another_users_webhook_is_not_found(carol: User, dave: User, receiver: Receiver) -> None:
    hook = subscribe(carol, receiver.url("/carols"), ["prompt.created"])
    base = f"/api/v1/webhooks/{hook['id']}"
    assert dave.http.get(base).status_code == 404
    assert dave.http.get(f"{base}/deliveries").status_code == 404
    assert dave.http.post(f"{base}/test").status_code == 404
    assert dave.http.delete(base).status_code == 404
    assert dave.http.get("/api/v1/webhooks/not-a-uuid").status_code == 404
    assert carol.http.get(base).status_code == 200
    assert carol.http.delete(base).status_code == 204
    assert carol.http.get(base).status_code == 404


def test_test_delivery_is_signed_the_standard_webhooks_way(carol: User, receiver: Receiver) -> None:
    hook = subscribe(carol, receiver.url("/signed"), ["prompt.created"])
    reply = carol.http.post(f"/api/v1/webhooks/{hook['id']}/test")
    assert reply.status_code == 200, reply.text
    delivery = reply.json()
    assert delivery["status"] == "delivered" and delivery["event_type"] == "webhook.test"
    assert [(a["attempt_no"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [(1, 204, None)]
    [request] = receiver.wait_for("/signed", 1)
    payload = Verifier(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test" and payload["id"] == request.headers["webhook-id"]
    assert payload["id"] == delivery["event_id"]
    assert set(json.loads(request.body)) == {"id", "type", "created_at", "subject", "data"}
    listed = carol.http.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [d["id"] for d in listed] == [delivery["id"]]


def test_a_redirect_to_link_local_is_a_logged_failed_attempt(carol: User, receiver: Receiver) -> None:
    url = receiver.url("/moved", Behaviour(then=307, location="http://169.254.169.254/latest/meta-data/"))
    hook = subscribe(carol, url, ["prompt.created"])
    delivery = carol.http.post(f"/api/v1/webhooks/{hook['id']}/test").json()
    assert delivery["status"] == "failed", delivery
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and "link-local" in attempt["error"], attempt
    assert len(receiver.at("/moved")) == 1  # the redirect was asked for, its target never


def test_a_receiver_that_never_answers_is_a_bounded_failed_attempt(carol: User, receiver: Receiver) -> None:
    hook = subscribe(carol, receiver.url("/silent", Behaviour(delay=30)), ["prompt.created"])
    delivery = carol.http.post(f"/api/v1/webhooks/{hook['id']}/test").json()
    [attempt] = delivery["attempts"]
    assert delivery["status"] == "failed" and "no complete answer" in attempt["error"], attempt
    assert attempt["duration_ms"] < 25_000  # the attempt's own timeout ended it (3 s here), not the receiver


def test_an_endless_slow_body_is_read_only_a_few_kib(carol: User, receiver: Receiver) -> None:
    hook = subscribe(carol, receiver.url("/huge", Behaviour(slow_huge=True)), ["prompt.created"])
    delivery = carol.http.post(f"/api/v1/webhooks/{hook['id']}/test").json()
    [attempt] = delivery["attempts"]
    # A 2xx status is all that counts: the sender stops reading after a few KiB of its body.
    assert delivery["status"] == "delivered" and attempt["status_code"] == 200, attempt
