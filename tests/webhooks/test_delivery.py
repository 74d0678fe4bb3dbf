"""Events reach subscribers: changes made through the gateway are POSTed to a real receiver on
127.0.0.1, retried with backoff (every attempt logged), in order per prompt, and a subscription
that fails for ever is disabled with the reason."""

from __future__ import annotations

import json

from standardwebhooks.webhooks import Webhook as Verifier

from tests.support.system import User
from tests.webhooks.receiver import Behaviour, Receiver
from tests.webhooks.support import deliveries, subscribe, wait_until

# Fewer senders than deliveries due at once: the dispatcher waits for a free one, it never spins.
EXTRA_SETTINGS = {"DEPOT_WEBHOOK_CONCURRENCY": "2"}


def test_a_receiver_failing_three_times_gets_one_success_and_four_logged_attempts(
    carol: User, receiver: Receiver
) -> None:
    url = receiver.url("/flaky", Behaviour(statuses=[500, 503, 500], then=200))
    hook = subscribe(carol, url, ["prompt.created"])
    prompt = carol.create_prompt()
    [delivery] = wait_until(
        lambda: deliveries(carol, hook["id"]),
        lambda items: len(items) == 1 and items[0]["status"] != "pending",
        what="the delivery to end",
    )
    assert delivery["status"] == "delivered", delivery
    attempts = [(a["attempt_no"], a["status_code"], a["error"]) for a in delivery["attempts"]]
    assert attempts == [(1, 500, "HTTP 500"), (2, 503, "HTTP 503"), (3, 500, "HTTP 500"), (4, 200, None)]
    requests = receiver.at("/flaky")
    assert len(requests) == 4
    # Every attempt carries the event's id and a fresh signature the independent verifier accepts.
    assert {r.headers["webhook-id"] for r in requests} == {delivery["event_id"]}
    payload = Verifier(hook["secret"]).verify(requests[-1].body, requests[-1].headers)
    assert payload["type"] == "prompt.created" and payload["subject"] == f"prompts/{prompt['id']}"
    assert payload["data"]["prompt_id"] == prompt["id"]
    assert carol.http.get(f"/api/v1/webhooks/{hook['id']}").json()["status"] == "active"


def test_the_events_of_one_prompt_arrive_in_order_even_when_the_first_is_retried(
    carol: User, receiver: Receiver
) -> None:
    url = receiver.url("/ordered", Behaviour(statuses=[500, 500], then=204))
    hook = subscribe(carol, url, ["prompt.created", "prompt.version_created"])
    prompt = carol.create_prompt()
    for n in range(5):
        reply = carol.http.post(
            f"/api/v1/prompts/{prompt['id']}/versions", json={"text": f"version {n}", "source": "agent"}
        )
        assert reply.status_code == 201, reply.text
    requests = receiver.wait_for("/ordered", 8)  # 2 failures, then the 6 events
    bodies = [json.loads(r.body) for r in requests]
    assert [b["type"] for b in bodies[:3]] == ["prompt.created"] * 3
    assert [b["data"]["version_no"] for b in bodies[3:]] == [1, 2, 3, 4, 5]
    wait_until(
        lambda: deliveries(carol, hook["id"]),
        lambda items: [d["status"] for d in items] == ["delivered"] * 6,
        what="six delivered",
    )


def test_a_receiver_failing_for_ever_is_disabled_with_the_reason(carol: User, receiver: Receiver) -> None:
    hook = subscribe(carol, receiver.url("/down", Behaviour(then=500)), ["prompt.created"])
    carol.create_prompt()  # one delivery: its attempts are one after another
    disabled = wait_until(
        lambda: carol.http.get(f"/api/v1/webhooks/{hook['id']}").json(),
        lambda body: body["status"] == "disabled",
        what="the webhook to be disabled",
    )
    assert disabled["disabled_reason"] == "5 consecutive failed attempts; the last: HTTP 500", disabled
    [delivery] = deliveries(carol, hook["id"])
    assert [a["status_code"] for a in delivery["attempts"]] == [500] * 5
    assert delivery["status"] == "failed"
    assert len(receiver.at("/down")) == 5
    # A disabled webhook is sent nothing more: a witness subscribed now gets the next event, it not.
    witness = subscribe(carol, receiver.url("/witness"), ["prompt.created"])
    later = carol.create_prompt()
    [seen] = receiver.wait_for("/witness", 1)
    assert json.loads(seen.body)["subject"] == f"prompts/{later['id']}"
    assert len(deliveries(carol, witness["id"])) == 1
    assert len(deliveries(carol, hook["id"])) == 1
    assert len(receiver.at("/down")) == 5


def test_events_of_other_users_and_other_types_are_not_sent(
    carol: User, dave: User, receiver: Receiver
) -> None:
    hook = subscribe(carol, receiver.url("/mine"), ["prompt.deleted"])
    dave_prompt = dave.create_prompt()
    assert dave.http.delete(f"/api/v1/prompts/{dave_prompt['id']}").status_code == 204
    mine = carol.create_prompt()  # prompt.created: not subscribed
    assert carol.http.delete(f"/api/v1/prompts/{mine['id']}").status_code == 204
    [request] = receiver.wait_for("/mine", 1)
    assert json.loads(request.body)["subject"] == f"prompts/{mine['id']}"
    assert [d["event_type"] for d in deliveries(carol, hook["id"])] == ["prompt.deleted"]


def test_more_deliveries_due_at_once_than_senders_all_arrive(carol: User, receiver: Receiver) -> None:
    hook = subscribe(carol, receiver.url("/crowd", Behaviour(delay=0.2)), ["prompt.created"])
    prompts = [carol.create_prompt() for _ in range(12)]
    requests = receiver.wait_for("/crowd", 12)
    assert {json.loads(r.body)["subject"] for r in requests} == {f"prompts/{p['id']}" for p in prompts}
    wait_until(
        lambda: deliveries(carol, hook["id"]),
        lambda items: [d["status"] for d in items] == ["delivered"] * 12,
        what="twelve delivered",
    )
