"""A crash of the exports process loses no event: a change committed while it is down is delivered
once it is back (the event waits in the owner's outbox, the consumer's cursor before it), and a
delivery whose sender died mid-attempt is sent again when its lease runs out. Events that match
no subscription move the stored cursor on a schedule rather than each time, and a crash while it
trails them re-reads them without losing or repeating a delivery."""

from __future__ import annotations

import json
import time

import psycopg

from services.common.events import decode_cursor
from tests.support.system import System, User
from tests.webhooks.receiver import Behaviour, Receiver
from tests.webhooks.support import deliveries, subscribe, wait_until

EXTRA_SETTINGS = {"DEPOT_WEBHOOK_LEASE_SECONDS": "2"}


def _restart_exports(system: System) -> None:
    system.kill(system.stack.processes["exports"].pid)
    _start_exports(system)


def _start_exports(system: System) -> None:
    """Starts exports again and waits until the gateway reaches it (its channel retries a refused
    connection with backoff, answering 503 meanwhile)."""
    system.stack.start_process("exports")
    system.stack.wait_serving("exports", deadline=time.monotonic() + 60)
    probe = system.client()
    try:
        wait_until(
            lambda: probe.http.get("/api/v1/webhooks").status_code, lambda code: code == 200, what="200"
        )
    finally:
        probe.http.close()


def test_a_change_committed_while_exports_is_down_is_delivered_after_restart(
    hooked: System, carol: User, receiver: Receiver
) -> None:
    hook = subscribe(carol, receiver.url("/after-crash"), ["prompt.created"])
    hooked.kill(hooked.stack.processes["exports"].pid)  # SIGKILL: no drain, nothing flushed
    prompt = carol.create_prompt()  # committed, with its event, while nobody consumes events
    assert receiver.at("/after-crash") == []
    _start_exports(hooked)
    [request] = receiver.wait_for("/after-crash", 1)
    assert json.loads(request.body)["subject"] == f"prompts/{prompt['id']}"
    wait_until(
        lambda: deliveries(carol, hook["id"]),
        lambda items: [d["status"] for d in items] == ["delivered"],
        what="one delivered",
    )


def test_a_delivery_whose_sender_died_mid_attempt_is_sent_again(
    hooked: System, carol: User, receiver: Receiver
) -> None:
    # The first attempt hangs at the receiver (longer than the attempt's own timeout would allow
    # it to run): exports is killed while it waits, so that attempt is never recorded.
    url = receiver.url("/mid-attempt", Behaviour(then=204))
    receiver.behaviours["/mid-attempt"].delay = 2.5
    hook = subscribe(carol, url, ["prompt.created"])
    prompt = carol.create_prompt()
    receiver.wait_for("/mid-attempt", 1)
    receiver.behaviours["/mid-attempt"].delay = 0
    _restart_exports(hooked)
    requests = receiver.wait_for("/mid-attempt", 2)
    assert {json.loads(r.body)["subject"] for r in requests} == {f"prompts/{prompt['id']}"}
    [delivery] = wait_until(
        lambda: deliveries(carol, hook["id"]),
        lambda items: len(items) == 1 and items[0]["status"] == "delivered",
        what="the delivery to end",
    )
    # The killed attempt left no record; the one after the restart did.
    assert [(a["attempt_no"], a["status_code"]) for a in delivery["attempts"]] == [(2, 204)]


def _stored_and_head(system: System) -> tuple[int, int]:
    """The position the prompts consumer's stored cursor names, and the prompts stream's newest."""
    with psycopg.connect(system.database.url) as conn:
        row = conn.execute("SELECT cursor FROM exports.webhook_cursors WHERE source = 'prompts'").fetchone()
        (head,) = conn.execute("SELECT last_position FROM prompts.event_sequencer").fetchone()  # type: ignore[misc]
    return decode_cursor("prompts", row[0] if row else ""), int(head)


def test_events_that_match_no_subscription_move_the_stored_cursor_soon_after(
    hooked: System, dave: User
) -> None:
    _, before = _stored_and_head(hooked)
    for _ in range(3):
        dave.create_prompt()  # dave subscribes to nothing
    wait_until(
        lambda: _stored_and_head(hooked),
        lambda positions: positions[1] >= before + 3 and positions[0] == positions[1],
        timeout=30,
        what="the stored cursor at the stream's newest event",
    )


def test_a_crash_while_the_cursor_trails_unmatched_events_loses_and_repeats_no_delivery(
    hooked: System, carol: User, dave: User, receiver: Receiver
) -> None:
    hook = subscribe(carol, receiver.url("/trailing"), ["prompt.created"])
    first = carol.create_prompt()
    receiver.wait_for("/trailing", 1)
    for _ in range(5):
        dave.create_prompt()  # read by the consumer, queued for nobody: the stored cursor trails them
    hooked.kill(hooked.stack.processes["exports"].pid)  # SIGKILL: the trailing cursor is not stored
    second = carol.create_prompt()
    _start_exports(hooked)  # reads dave's events again, then carol's second
    receiver.wait_for("/trailing", 2)
    wait_until(
        lambda: deliveries(carol, hook["id"]),
        lambda items: [d["status"] for d in items] == ["delivered", "delivered"],
        what="two delivered",
    )
    wait_until(
        lambda: _stored_and_head(hooked),
        lambda positions: positions[0] == positions[1],
        timeout=30,
        what="the stored cursor at the stream's newest event",
    )
    subjects = [json.loads(r.body)["subject"] for r in receiver.at("/trailing")]
    assert subjects == [f"prompts/{first['id']}", f"prompts/{second['id']}"]
