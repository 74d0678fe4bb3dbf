"""The files and exports services' events through their own WatchEvents, on the real PostgreSQL."""

from __future__ import annotations

import base64

import grpc

from tests.events.support import data, subject_is, watch, watch_error
from tests.files.support import file_url, stored
from tests.support.system import System, User


def test_a_file_written_replaced_and_deleted_is_an_event_each(system: System, alice: User, bob: User) -> None:
    first = stored(alice, "chat-1", "notes.txt", b"one")
    stored(alice, "chat-1", "notes.txt", b"two, replaced")
    patched = alice.http.patch(file_url("chat-1", "notes.txt"), json={"description": "no event"})
    assert patched.status_code == 200, patched.text
    assert alice.http.delete(file_url("chat-1", "notes.txt")).status_code == 204
    stored(bob, "chat-1", "notes.txt", b"bob's")
    stored(alice, "chat-2", "a.txt", b"a")
    assert alice.http.delete("/api/v1/chats/chat-2").status_code == 204  # its files go with it

    events = watch(
        system, alice, service="files", until=subject_is("chats/chat-2/files/a.txt", "file.deleted")
    )

    assert [(e.type, e.subject) for e in events] == [
        ("file.created", "chats/chat-1/files/notes.txt"),
        ("file.created", "chats/chat-1/files/notes.txt"),
        ("file.deleted", "chats/chat-1/files/notes.txt"),
        ("file.created", "chats/chat-2/files/a.txt"),
        ("file.deleted", "chats/chat-2/files/a.txt"),
    ]
    assert {e.owner for e in events} == {alice.id}
    assert data(events[0])["file_id"] == first["id"] and data(events[0])["replaced"] is False
    assert data(events[1])["replaced"] is True and data(events[1])["size_bytes"] == len(b"two, replaced")
    only_deleted = watch(
        system,
        alice,
        service="files",
        types=["file.deleted"],
        until=subject_is("chats/chat-2/files/a.txt", "file.deleted"),
    )
    assert [e.type for e in only_deleted] == ["file.deleted", "file.deleted"]


def test_an_export_that_completes_or_fails_is_an_event(system: System, alice: User) -> None:
    good = alice.create_prompt(original_text="a plain prompt")
    bad = alice.create_prompt(original_text="private use \ue000 character")
    completed = alice.http.post("/api/v1/exports", json={"source": f"prompts/{good['id']}", "format": "json"})
    assert completed.status_code == 201, completed.text
    failed = alice.http.post("/api/v1/exports", json={"source": f"prompts/{bad['id']}", "format": "pdf"})
    assert failed.status_code == 412, failed.text
    [failed_row] = alice.http.get("/api/v1/exports", params={"source": f"prompts/{bad['id']}"}).json()[
        "items"
    ]

    events = watch(
        system, alice, service="exports", until=subject_is(f"exports/{failed_row['id']}", "export.failed")
    )

    assert [(e.type, e.subject) for e in events] == [
        ("export.completed", f"exports/{completed.json()['id']}"),
        ("export.failed", f"exports/{failed_row['id']}"),
    ]
    assert data(events[0])["sha256"] == completed.json()["sha256"]
    assert "U+E000" in data(events[1])["error"]


def test_each_stream_takes_only_its_own_cursors_and_types(system: System, alice: User) -> None:
    stored(alice, "chat-x", "f.txt", b"x")
    [event] = watch(
        system, alice, service="files", until=subject_is("chats/chat-x/files/f.txt", "file.created")
    )
    prompts_cursor = base64.urlsafe_b64encode(b"prompts:1").decode().rstrip("=")
    for service, request in (
        ("files", {"after": prompts_cursor}),
        ("exports", {"after": event.cursor}),
        ("files", {"types": ["export.completed"]}),
    ):
        error = watch_error(system, alice, service=service, **request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (service, request, error.code())
