"""The prompts service's events through gRPC WatchEvents, on the real PostgreSQL: one event per
committed change, none for a rolled-back one, in commit order, only the caller's own, resumable."""

from __future__ import annotations

import base64
import threading
from typing import Any

import grpc
import psycopg

from tests.events.support import data, subject_is, watch, watch_error
from tests.support.system import Database, System, User


def score(value: float) -> dict[str, float]:
    return dict.fromkeys(("clarity", "specificity", "actionability", "structure", "context_use"), value)


def created(user: User, **body: Any) -> str:
    return str(user.create_prompt(**body)["id"])


def ok(reply: Any) -> Any:
    assert reply.status_code < 300, reply.text
    return reply


def test_each_prompt_change_is_one_event_in_commit_order(system: System, alice: User) -> None:
    versions = [{"text": "first", "source": "syntax"}, {"text": "second", "source": "structure"}]
    prompt_id = created(alice, request_id="r-1", versions=versions)
    api = f"/api/v1/prompts/{prompt_id}"
    ok(alice.http.post(f"{api}/versions", json={"text": "third", "source": "domain", "parent_version_no": 2}))
    ok(alice.http.put(f"{api}/versions/3/score", json=score(9)))
    ok(alice.http.put(f"{api}/labels/production", json={"version_no": 1}))
    ok(alice.http.put(f"{api}/labels/production", json={"version_no": 3}))
    feedback = {
        "request_id": "r-1",
        "user_choice": "multi",
        "judge_winner": "domain",
        "agent_winner": "domain",
    }
    ok(alice.http.post("/api/v1/feedback", json=feedback))
    ok(alice.http.post("/api/v1/feedback", json={**feedback, "user_choice": "single"}))  # an update: no event
    ok(alice.http.delete(api))

    events = watch(system, alice, until=subject_is(f"prompts/{prompt_id}", "prompt.deleted"))

    assert [e.type for e in events] == [
        "prompt.created",
        "prompt.version_created",
        "prompt.best_changed",
        "prompt.label_moved",
        "prompt.label_moved",
        "feedback.created",
        "prompt.deleted",
    ]
    assert {e.subject for e in events} == {f"prompts/{prompt_id}"}
    assert {e.owner for e in events} == {alice.id}
    assert len({e.id for e in events}) == len(events)
    assert data(events[0]) == {
        "prompt_id": prompt_id,
        "request_id": "r-1",
        "agent_type": None,
        "version_count": 2,
        "best_version_no": None,
    }
    assert data(events[1]) == {
        "prompt_id": prompt_id,
        "version_no": 3,
        "source": "domain",
        "parent_version_no": 2,
    }
    assert data(events[2]) == {"prompt_id": prompt_id, "from_version_no": None, "to_version_no": 3}
    moves = [(data(e)["from_version_no"], data(e)["to_version_no"], data(e)["moved_by"]) for e in events[3:5]]
    assert moves == [(None, 1, alice.id), (1, 3, alice.id)]
    assert data(events[3])["label"] == "production"
    assert data(events[5])["request_id"] == "r-1" and data(events[5])["user_choice"] == "multi"
    assert data(events[6]) == {"prompt_id": prompt_id}


def test_a_rolled_back_change_makes_no_event(system: System, database: Database, alice: User) -> None:
    prompt_id = created(alice, request_id="kept", versions=[{"text": "one", "source": "syntax"}])
    [first] = watch(system, alice, until=subject_is(f"prompts/{prompt_id}", "prompt.created"))
    # Every kind of prompts change in one transaction that rolls back (SQL: the API commits what it does).
    with psycopg.connect(database.url) as conn:
        conn.execute("INSERT INTO prompts.prompts (owner, original_text) VALUES (%s, 'gone')", (alice.id,))
        conn.execute(
            "INSERT INTO prompts.versions (prompt_id, version_no, text, source) VALUES (%s, 2, 'x', 'y')",
            (prompt_id,),
        )
        conn.execute(
            "UPDATE prompts.prompts SET version_count = 2, best_version_no = 2 WHERE id = %s", (prompt_id,)
        )
        conn.execute(
            "INSERT INTO prompts.label_moves (prompt_id, label, to_version_no, moved_at, moved_by)"
            " VALUES (%s, 'production', 1, now(), %s)",
            (prompt_id, alice.id),
        )
        conn.execute(
            "INSERT INTO prompts.feedback (owner, request_id, prompt_id, user_choice, judge_winner,"
            " agent_winner, judge_correct) VALUES (%s, 'kept', %s, 'multi', 'a', 'a', true)",
            (alice.id, prompt_id),
        )
        conn.execute("DELETE FROM prompts.prompts WHERE id = %s", (prompt_id,))
        conn.rollback()
    sentinel = created(alice)

    events = watch(
        system, alice, after=first.cursor, until=subject_is(f"prompts/{sentinel}", "prompt.created")
    )

    assert [(e.type, e.subject) for e in events] == [("prompt.created", f"prompts/{sentinel}")]


def test_the_types_filter_keeps_only_the_types_asked_for(system: System, alice: User) -> None:
    prompt_id = created(alice, versions=[{"text": "one", "source": "syntax"}])
    ok(alice.http.post(f"/api/v1/prompts/{prompt_id}/versions", json={"text": "two", "source": "syntax"}))
    ok(alice.http.delete(f"/api/v1/prompts/{prompt_id}"))

    events = watch(
        system,
        alice,
        types=["prompt.deleted", "prompt.version_created"],
        until=subject_is(f"prompts/{prompt_id}", "prompt.deleted"),
    )

    assert [e.type for e in events] == ["prompt.version_created", "prompt.deleted"]


def test_another_users_events_are_invisible_and_an_admin_sees_all_with_all_users(
    system: System, alice: User, bob: User
) -> None:
    alices = created(alice)
    bobs = created(bob)
    sentinel = created(alice)

    seen_by_alice = watch(system, alice, until=subject_is(f"prompts/{sentinel}", "prompt.created"))
    admin = system.client(admin=True)
    seen_by_admin = watch(
        system, admin, all_users=True, until=subject_is(f"prompts/{sentinel}", "prompt.created")
    )
    # Without all_users an admin sees only its own events: none, so the watch just waits.
    admin_alone = watch_error(system, admin, after=seen_by_admin[-1].cursor, timeout=2)

    assert {e.owner for e in seen_by_alice} == {alice.id}
    assert f"prompts/{bobs}" not in {e.subject for e in seen_by_alice}
    admin_saw = [e.subject for e in seen_by_admin]
    assert (
        admin_saw.index(f"prompts/{alices}")
        < admin_saw.index(f"prompts/{bobs}")
        < admin_saw.index(f"prompts/{sentinel}")
    )
    assert admin_alone.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_all_users_is_for_admins(system: System, alice: User) -> None:
    error = watch_error(system, alice, all_users=True)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_garbage_or_future_cursor_is_invalid_argument_naming_after(system: System, alice: User) -> None:
    prompt_id = created(alice)
    [event] = watch(system, alice, until=subject_is(f"prompts/{prompt_id}", "prompt.created"))
    future = base64.urlsafe_b64encode(b"prompts:999999999999").decode().rstrip("=")
    other_stream = base64.urlsafe_b64encode(b"files:1").decode().rstrip("=")
    for cursor in ("garbage!", "Z2FyYmFnZQ", future, other_stream, event.cursor + "x" * 200, "%%%"):
        error = watch_error(system, alice, after=cursor)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (cursor, error.code())
        assert "after" in (error.details() or ""), error.details()


def test_an_unknown_type_is_invalid_argument_naming_types(system: System, alice: User) -> None:
    error = watch_error(system, alice, types=["prompt.created", "file.created"])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "types" in (error.details() or "")


def test_a_client_disconnected_during_100_changes_resumes_and_sees_all_100_in_order(
    system: System, alice: User
) -> None:
    prompt_id = created(alice, versions=[{"text": "v1", "source": "syntax"}])
    [start] = watch(system, alice, until=subject_is(f"prompts/{prompt_id}", "prompt.created"))

    def append_100() -> None:
        for n in range(2, 102):
            ok(
                alice.http.post(
                    f"/api/v1/prompts/{prompt_id}/versions", json={"text": f"v{n}", "source": "s"}
                )
            )

    writer = threading.Thread(target=append_100)
    writer.start()
    try:
        before_gap = watch(system, alice, after=start.cursor, until=lambda e: data(e).get("version_no") == 30)
        # The client is gone while the writer goes on; it comes back with the last cursor it saw.
        after_gap = watch(
            system, alice, after=before_gap[-1].cursor, until=lambda e: data(e).get("version_no") == 101
        )
    finally:
        writer.join()

    numbers = [data(e)["version_no"] for e in before_gap + after_gap]
    assert numbers == list(range(2, 102)), numbers
    assert len({e.id for e in before_gap + after_gap}) == 100
