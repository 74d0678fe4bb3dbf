"""One prompt's events come in the order its changes committed, whichever kinds of change race.

Every change of a prompt takes the prompt's row lock in the mode an append takes it (FOR NO KEY
UPDATE) before it writes its event, so the changes of one prompt take turns and their inbox order is
their commit order. The race with an open append pauses the relay (it holds the sequencer row's
lock) so that both changes are committed before either is placed: the stream then shows the inbox
order, which without the lock was not the commit order.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from tests.events.support import data, subject_is, watch
from tests.support.system import Database, System, User

FEEDBACK = {"user_choice": "multi", "judge_winner": "domain", "agent_winner": "domain"}


def ok(reply: httpx.Response) -> httpx.Response:
    assert reply.status_code < 300, reply.text
    return reply


def hold_append(conn: psycopg.Connection[Any], prompt_id: str) -> int:
    """Appends a version in SQL (the triggers write its event) and leaves the transaction open."""
    [(version_no,)] = conn.execute(
        "SELECT version_count + 1 FROM prompts.prompts WHERE id = %s", (prompt_id,)
    ).fetchall()
    conn.execute(
        "INSERT INTO prompts.versions (prompt_id, version_no, text, source) VALUES (%s, %s, 'held', 'domain')",
        (prompt_id, version_no),
    )
    conn.execute(
        "UPDATE prompts.prompts SET version_count = version_count + 1, revision = revision + 1 WHERE id = %s",
        (prompt_id,),
    )
    return int(version_no)


def wait_done_or_blocked(database: Database, thread: threading.Thread, holder_pid: int) -> None:
    """Until the change in `thread` has finished or waits for a lock `holder_pid` holds."""
    with psycopg.connect(database.url, autocommit=True) as probe:
        deadline = time.monotonic() + 30
        while thread.is_alive():
            [(blocked,)] = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (holder_pid,)
            ).fetchall()
            if blocked:
                return
            assert time.monotonic() < deadline, "the change neither finished nor waited"
            time.sleep(0.01)


def label_move(user: User, prompt_id: str, request_id: str) -> None:
    ok(user.http.put(f"/api/v1/prompts/{prompt_id}/labels/production", json={"version_no": 1}))


def feedback(user: User, prompt_id: str, request_id: str) -> None:
    ok(user.http.post("/api/v1/feedback", json={"request_id": request_id, **FEEDBACK}))


@pytest.mark.parametrize(
    ("change", "event_type"),
    [(label_move, "prompt.label_moved"), (feedback, "feedback.created")],
    ids=["label_move", "feedback"],
)
def test_a_change_racing_an_open_append_of_its_prompt_is_placed_in_commit_order(
    system: System,
    database: Database,
    alice: User,
    change: Callable[[User, str, str], None],
    event_type: str,
) -> None:
    request_id = f"order-{uuid.uuid4()}"
    prompt_id = str(alice.create_prompt(request_id=request_id)["id"])
    subject = f"prompts/{prompt_id}"
    ok(alice.http.post(f"/api/v1/prompts/{prompt_id}/versions", json={"text": "one", "source": "syntax"}))
    start = watch(system, alice, until=subject_is(subject, "prompt.version_created"))[-1].cursor
    thread = threading.Thread(target=change, args=(alice, prompt_id, request_id))

    with psycopg.connect(database.url) as relay_pause, psycopg.connect(database.url) as append:
        relay_pause.execute("SELECT last_position FROM prompts.event_sequencer FOR UPDATE")
        held_no = hold_append(append, prompt_id)
        thread.start()
        wait_done_or_blocked(database, thread, append.info.backend_pid)
        change_first = not thread.is_alive()
        append.commit()
        thread.join(60)
        assert not thread.is_alive()
        relay_pause.commit()  # the relay places both now, in inbox order

    events = next_two(system, alice, start, subject, event_type)
    placed = [e.type for e in events]
    committed = (
        [event_type, "prompt.version_created"] if change_first else ["prompt.version_created", event_type]
    )
    assert placed == committed, f"placed {placed}, committed {committed}"
    assert data(next(e for e in events if e.type == "prompt.version_created"))["version_no"] == held_no


def next_two(system: System, user: User, after: str, subject: str, event_type: str) -> list[Any]:
    """The prompt's next version_created and `event_type` events, in stream order."""
    seen: list[Any] = []

    def until(event: Any) -> bool:
        if event.subject == subject and event.type in ("prompt.version_created", event_type):
            seen.append(event)
        return len(seen) == 2

    watch(system, user, after=after, until=until)
    return seen


def test_racing_appends_label_moves_and_feedback_of_one_prompt_stream_in_the_order_of_their_effects(
    system: System, alice: User
) -> None:
    request_id = f"order-{uuid.uuid4()}"
    versions = [{"text": "one", "source": "syntax"}, {"text": "two", "source": "structure"}]
    prompt_id = str(alice.create_prompt(request_id=request_id, versions=versions)["id"])
    api = f"/api/v1/prompts/{prompt_id}"
    subject = f"prompts/{prompt_id}"
    start = watch(system, alice, until=subject_is(subject, "prompt.created"))[-1].cursor
    rounds = 20

    def appender() -> None:
        user = system.client(alice.id)
        for n in range(rounds):
            ok(user.http.post(f"{api}/versions", json={"text": f"appended {n}", "source": "domain"}))

    def mover() -> None:
        user = system.client(alice.id)
        for n in range(rounds):
            ok(user.http.put(f"{api}/labels/production", json={"version_no": n % 2 + 1}))

    def giver() -> None:
        user = system.client(alice.id)
        for n in range(rounds):
            choice = ("multi", "single")[n % 2]
            ok(
                user.http.post(
                    "/api/v1/feedback", json={**FEEDBACK, "request_id": request_id, "user_choice": choice}
                )
            )

    threads = [threading.Thread(target=work) for work in (appender, appender, mover, giver)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    last = ok(alice.http.post(f"{api}/versions", json={"text": "last", "source": "domain"})).json()[
        "version_no"
    ]

    events = [
        e
        for e in watch(
            system,
            alice,
            after=start,
            until=lambda e: (
                e.subject == subject and e.type == "prompt.version_created" and data(e)["version_no"] == last
            ),
        )
        if e.subject == subject
    ]

    created_nos = [data(e)["version_no"] for e in events if e.type == "prompt.version_created"]
    assert created_nos == list(range(3, last + 1)), "versions are placed in the order they were numbered"
    moves = [
        (data(e).get("from_version_no"), data(e)["to_version_no"])
        for e in events
        if e.type == "prompt.label_moved"
    ]
    reply = ok(alice.http.get(f"{api}/labels/production/history", params={"page_size": 1000}))
    recorded = [(m.get("from_version_no"), m["to_version_no"]) for m in reversed(reply.json()["items"])]
    assert moves == recorded, "label moves are placed in the order of the label's history"
    assert all(a[1] == b[0] for a, b in itertools.pairwise(moves)), (
        "each move starts where the one before ended"
    )
    assert [e.type for e in events].count("feedback.created") == 1
