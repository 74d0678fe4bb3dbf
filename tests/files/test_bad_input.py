"""Bad input through the gateway: every refusal is a clear 4xx with a reason, and nothing is stored."""

from __future__ import annotations

import pytest

from tests.files.support import file_url, put, reason, stored
from tests.support.system import System, User

MAX_FILE_BYTES = 25 * 1024 * 1024  # DEPOT_MAX_FILE_BYTES's default, which the test system runs with

BAD_NAMES = {
    "": "FILENAME_EMPTY",
    ".": "FILENAME_RESERVED",
    "..": "FILENAME_RESERVED",
    "a/b.txt": "FILENAME_HAS_SEPARATOR",
    "a\\b.txt": "FILENAME_HAS_SEPARATOR",
    "a\x00b.txt": "FILENAME_HAS_CONTROL_CHARACTER",
    "bell\x07.txt": "FILENAME_HAS_CONTROL_CHARACTER",
    "line\nbreak.txt": "FILENAME_HAS_CONTROL_CHARACTER",
    "del\x7f.txt": "FILENAME_HAS_CONTROL_CHARACTER",
    "evil\u202etxt.exe": "FILENAME_HAS_CONTROL_CHARACTER",
    "é" * 128: "FILENAME_TOO_LONG",  # 256 bytes of UTF-8 in 128 characters
    " lead.txt": "FILENAME_SURROUNDING_SPACE",
    "trail.txt ": "FILENAME_SURROUNDING_SPACE",
    "   ": "FILENAME_SURROUNDING_SPACE",
}


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:24] for n in BAD_NAMES])
def test_bad_filename_is_400_with_its_reason_and_nothing_is_stored(alice: User, name: str) -> None:
    reply = put(alice, "c1", name, b"content")
    assert reply.status_code == 400, reply.text
    assert (reply.json()["error"]["code"], reason(reply)) == ("INVALID_ARGUMENT", BAD_NAMES[name])
    assert reply.json()["error"]["details"][0]["metadata"] == {"field": "filename"}
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"] == []
    assert alice.http.get(file_url("c1", name)).status_code == 400


def test_longest_allowed_name_is_255_bytes(alice: User) -> None:
    name = "é" * 127 + "x"
    assert put(alice, "c1", name, b"x").status_code == 201
    assert alice.http.get(file_url("c1", name)).content == b"x"


def test_undecodable_percent_escapes_in_a_name_are_400(alice: User) -> None:
    reply = alice.http.put("/api/v1/chats/c1/files/bad%FF.txt", content=b"x")
    assert (reply.status_code, reason(reply)) == (400, "FILENAME_NOT_UTF8")


@pytest.mark.parametrize("chat_id", ["bad%20chat", "-leading-dash", "x" * 129, "%2E%2E", "caf%C3%A9"])
def test_bad_chat_id_is_400(alice: User, chat_id: str) -> None:
    for reply in (
        alice.http.put(f"/api/v1/chats/{chat_id}/files/a.txt", content=b"x"),
        alice.http.get(f"/api/v1/chats/{chat_id}/files"),
        alice.http.post(
            f"/api/v1/chats/{chat_id}/artifacts", json={"title": "t", "columns": ["a"], "rows": []}
        ),
    ):
        assert (reply.status_code, reason(reply)) == (400, "INVALID_CHAT_ID"), reply.text


def test_file_over_the_size_limit_is_413_and_nothing_is_stored(alice: User) -> None:
    reply = put(alice, "c1", "huge.bin", b"\0" * (MAX_FILE_BYTES + 1))
    assert reply.status_code == 413, reply.text
    assert (reply.json()["error"]["code"], reason(reply)) == ("RESOURCE_EXHAUSTED", "FILE_TOO_LARGE")
    assert alice.http.get(file_url("c1", "huge.bin")).status_code == 404


def test_streamed_upload_without_length_is_cut_off_at_the_limit(alice: User) -> None:
    sent = 0

    def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        piece = b"\1" * (1024 * 1024)
        for _ in range(MAX_FILE_BYTES // len(piece) + 4):
            sent += len(piece)
            yield piece

    reply = alice.http.put(file_url("c1", "chunked.bin"), content=body())
    assert "content-length" not in reply.request.headers
    assert (reply.status_code, reason(reply)) == (413, "FILE_TOO_LARGE")
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"] == []


def test_file_of_exactly_the_limit_is_accepted(alice: User) -> None:
    assert stored(alice, "c1", "limit.bin", b"\2" * MAX_FILE_BYTES)["size_bytes"] == MAX_FILE_BYTES


def test_a_replaced_file_over_the_limit_keeps_its_old_content(alice: User) -> None:
    stored(alice, "c1", "keep.txt", b"old")
    assert put(alice, "c1", "keep.txt", b"\0" * (MAX_FILE_BYTES + 1)).status_code == 413
    assert alice.http.get(file_url("c1", "keep.txt")).content == b"old"


def _nested(depth: int) -> dict[str, object]:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return {"d": value}


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ([1, 2], "METADATA_NOT_OBJECT"),
        ("text", "METADATA_NOT_OBJECT"),
        (42, "METADATA_NOT_OBJECT"),
        ({"big": "x" * 17_000}, "METADATA_TOO_LARGE"),
        ({"nul": "a\u0000b"}, "METADATA_HAS_NUL"),
        (_nested(40), "METADATA_TOO_DEEP"),
    ],
)
def test_bad_metadata_is_400_with_its_reason(alice: User, metadata: object, why: str) -> None:
    stored(alice, "c1", "m.txt", b"x")
    reply = alice.http.patch(file_url("c1", "m.txt"), json={"metadata": metadata})
    assert (reply.status_code, reason(reply)) == (400, why), reply.text
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"][0]["metadata"] is None


def test_metadata_on_put_must_be_a_json_object(alice: User) -> None:
    for text, why in (
        ("{not json", "METADATA_NOT_JSON"),
        ("[1]", "METADATA_NOT_OBJECT"),
        ("NaN", "METADATA_NOT_JSON"),
    ):
        reply = put(alice, "c1", "m.txt", b"x", params={"metadata": text})
        assert (reply.status_code, reason(reply)) == (400, why), text
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"] == []


def test_metadata_of_exactly_16_kib_is_accepted(alice: User) -> None:
    metadata = {"k": "x" * (16 * 1024 - 10)}  # '{"k": "' + value + '"}' is 16,384 bytes
    body = stored(alice, "c1", "m.txt", b"x")
    reply = alice.http.patch(file_url("c1", "m.txt"), json={"metadata": metadata})
    assert reply.status_code == 200, reply.text
    assert reply.json()["metadata"] == metadata != body["metadata"]


def test_bad_media_type_and_file_type_are_400(alice: User) -> None:
    reply = put(alice, "c1", "a.txt", b"x", headers={"Content-Type": "not a media type"})
    assert (reply.status_code, reason(reply)) == (400, "INVALID_MEDIA_TYPE")
    reply = put(alice, "c1", "a.txt", b"x", params={"file_type": "no spaces allowed"})
    assert (reply.status_code, reason(reply)) == (400, "INVALID_FILE_TYPE")


def test_description_over_4096_characters_is_400(alice: User) -> None:
    reply = put(alice, "c1", "a.txt", b"x", params={"description": "d" * 4097})
    assert (reply.status_code, reason(reply)) == (400, "DESCRIPTION_TOO_LONG")


def test_unknown_file_is_404_for_every_verb(alice: User) -> None:
    url = file_url("c1", "missing.txt")
    for reply in (
        alice.http.get(url),
        alice.http.patch(url, json={"description": "x"}),
        alice.http.delete(url),
        alice.http.post(url + ":replace", json={"old": "a", "new": "b"}),
    ):
        assert (reply.status_code, reason(reply)) == (404, "FILE_NOT_FOUND"), reply.text


def test_unknown_chat_delete_is_404(alice: User) -> None:
    reply = alice.http.delete("/api/v1/chats/no-such-chat")
    assert (reply.status_code, reason(reply)) == (404, "CHAT_NOT_FOUND")


def test_bad_json_bodies_are_400_not_422(alice: User) -> None:
    stored(alice, "c1", "a.txt", b"x")
    reply = alice.http.patch(file_url("c1", "a.txt"), json={"description": 5})
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "INVALID_ARGUMENT")
    reply = alice.http.patch(file_url("c1", "a.txt"), json={"unknown": 1})
    assert reply.status_code == 400


@pytest.mark.parametrize("size", [67, 64 * 1024])
@pytest.mark.parametrize("token", ["a.b.c", "not-a-token", "eyJhbGciOiJub25lIn0.e30."])
def test_an_upload_with_an_invalid_token_is_401_with_its_body_refused(
    alice: User, system: System, token: str, size: int
) -> None:
    # The service refuses the token before it reads the stream; the client must still hear 401,
    # not the INTERNAL a gRPC client reports when a call ends while it sends (grpc/grpc#36066).
    body = (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 256)[:size]
    with system.anonymous() as anonymous:
        for attempt in range(10):
            reply = anonymous.put(
                file_url("c1", f"intruder-{attempt}.png"),
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
            )
            assert reply.status_code == 401, reply.text
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"] == []
