"""Chat files end to end through the gateway, on the real PostgreSQL: round trips, ranges, ETags."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from tests.files.support import file_url, put, reason, stored
from tests.support.system import System, User

ALL_BYTES = bytes(range(256))
PIECE = 512 * 1024  # the service's storage piece (rules.CHUNK_BYTES); ranges across its boundaries are tested


def test_all_256_byte_values_round_trip_exactly(alice: User) -> None:
    created = put(alice, "c1", "bytes.bin", ALL_BYTES * 3)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["size_bytes"] == 768
    assert body["sha256"] == hashlib.sha256(ALL_BYTES * 3).hexdigest()
    assert body["file_type"] == "binary"
    reply = alice.http.get(file_url("c1", "bytes.bin"))
    assert reply.status_code == 200
    assert reply.content == ALL_BYTES * 3
    assert reply.headers["content-length"] == "768"
    assert reply.headers["etag"] == f'"{body["sha256"]}"'
    assert reply.headers["accept-ranges"] == "bytes"


def test_empty_file_round_trips(alice: User) -> None:
    body = stored(alice, "c1", "empty.txt", b"")
    assert (body["size_bytes"], body["sha256"]) == (0, hashlib.sha256(b"").hexdigest())
    reply = alice.http.get(file_url("c1", "empty.txt"))
    assert (reply.status_code, reply.content, reply.headers["content-length"]) == (200, b"", "0")


def test_text_keeps_its_exact_bytes_and_media_type(alice: User) -> None:
    text = "\ufeffline one\r\nzwei – drei\n\tend without newline".encode()
    body = stored(alice, "c1", "notes.md", text, headers={"Content-Type": "text/markdown; charset=utf-8"})
    assert (body["file_type"], body["media_type"]) == ("markdown", "text/markdown; charset=utf-8")
    reply = alice.http.get(file_url("c1", "notes.md"))
    assert reply.content == text
    assert reply.headers["content-type"] == "text/markdown; charset=utf-8"


def test_type_and_media_type_are_inferred_from_the_name(alice: User) -> None:
    assert stored(alice, "c1", "growth.py", "print(1)\n")["file_type"] == "python"
    csv = stored(alice, "c1", "data.csv", "a,b\n1,2\n")
    assert (csv["file_type"], csv["media_type"]) == ("csv", "text/csv")
    given = stored(alice, "c1", "report", "x", params={"file_type": "Markdown"})
    assert given["file_type"] == "markdown"


def test_large_file_spanning_many_pieces_round_trips(alice: User) -> None:
    content = os.urandom(3 * PIECE + 1234)
    stored(alice, "c1", "big.bin", content)
    with alice.http.stream("GET", file_url("c1", "big.bin")) as reply:
        received = b"".join(reply.iter_raw())
    assert received == content


def test_range_requests_answer_206_with_content_range(alice: User) -> None:
    content = os.urandom(2 * PIECE + 100)
    size = len(content)
    stored(alice, "c1", "r.bin", content)
    url = file_url("c1", "r.bin")
    cases = {
        f"bytes={PIECE - 5}-{PIECE + 4}": (PIECE - 5, PIECE + 4),  # across a piece boundary
        "bytes=0-0": (0, 0),
        f"bytes={size - 10}-": (size - 10, size - 1),
        "bytes=-7": (size - 7, size - 1),
        f"bytes=10-{size + 1000}": (10, size - 1),  # the end is clamped to the file
    }
    for header, (first, last) in cases.items():
        reply = alice.http.get(url, headers={"Range": header})
        assert reply.status_code == 206, (header, reply.status_code)
        assert reply.headers["content-range"] == f"bytes {first}-{last}/{size}", header
        assert reply.content == content[first : last + 1], header
        assert reply.headers["content-length"] == str(last - first + 1)


def test_unsatisfiable_range_is_416_and_malformed_ranges_are_ignored(alice: User) -> None:
    stored(alice, "c1", "r.txt", b"0123456789")
    url = file_url("c1", "r.txt")
    for header in ("bytes=10-", "bytes=99-100", "bytes=-0"):
        reply = alice.http.get(url, headers={"Range": header})
        assert reply.status_code == 416, header
        assert reply.headers["content-range"] == "bytes */10"
        assert reply.json()["error"]["code"] == "OUT_OF_RANGE"
    for header in ("bytes=5-2", "bytes=0-1,4-5", "items=0-3", "bytes=x-"):
        reply = alice.http.get(url, headers={"Range": header})
        assert (reply.status_code, reply.content) == (200, b"0123456789"), header


def test_content_disposition_is_a_safe_rfc_6266_attachment(alice: User) -> None:
    name = 'Résumé "final"; v2 €.txt'
    stored(alice, "c1", name, b"x")
    disposition = alice.http.get(file_url("c1", name)).headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"Resume _final__ v2 .txt\"; filename*=UTF-8''"
        "R%C3%A9sum%C3%A9%20%22final%22%3B%20v2%20%E2%82%AC.txt"
    )


def test_put_again_replaces_with_200_and_keeps_id_and_creation_time(alice: User) -> None:
    first = put(alice, "c1", "f.txt", b"one", params={"description": "first"})
    second = put(alice, "c1", "f.txt", b"two")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.headers["location"] == "/api/v1/chats/c1/files/f.txt"
    a, b = first.json(), second.json()
    assert (b["id"], b["created_at"]) == (a["id"], a["created_at"])
    assert b["description"] == "first", "a PUT without a description keeps the stored one"
    assert b["revision"] > a["revision"]
    assert alice.http.get(file_url("c1", "f.txt")).content == b"two"


def test_twenty_concurrent_puts_of_one_name_leave_one_file(alice: User, system: System) -> None:
    clients = [system.client(alice.id) for _ in range(20)]
    payloads = [f"version {i}".encode() * 1000 for i in range(20)]

    def upload(i: int) -> int:
        return put(clients[i], "race", "same.txt", payloads[i]).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(upload, range(20)))
    for client in clients:
        client.http.close()
    assert sorted(statuses) == [200] * 19 + [201], statuses
    items = alice.http.get("/api/v1/chats/race/files").json()["items"]
    assert [f["filename"] for f in items] == ["same.txt"]
    content = alice.http.get(file_url("race", "same.txt")).content
    assert content in payloads
    assert items[0]["sha256"] == hashlib.sha256(content).hexdigest()


def test_names_are_stored_nfc_so_two_spellings_are_one_file(alice: User) -> None:
    decomposed, composed = "cafe\u0301.txt", "caf\u00e9.txt"
    assert put(alice, "c1", decomposed, b"1").status_code == 201
    assert put(alice, "c1", composed, b"2").status_code == 200
    items = alice.http.get("/api/v1/chats/c1/files").json()["items"]
    assert [f["filename"] for f in items] == [composed]
    assert alice.http.get(file_url("c1", decomposed)).content == b"2"


def test_list_is_metadata_only_paginated_newest_first(alice: User) -> None:
    for i in range(5):
        stored(alice, "c1", f"f{i}.txt", f"content {i}", params={"metadata": f'{{"i": {i}}}'})
    seen, token = [], ""
    while True:
        page = alice.http.get("/api/v1/chats/c1/files", params={"page_size": 2, "page_token": token}).json()
        assert set(page) == {"items", "next_page_token"}
        assert all("content" not in f for f in page["items"])
        seen += [(f["filename"], f["metadata"]) for f in page["items"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [(f"f{i}.txt", {"i": i}) for i in reversed(range(5))]


def test_chat_without_files_lists_nothing_with_200(alice: User) -> None:
    reply = alice.http.get("/api/v1/chats/never-used/files")
    assert (reply.status_code, reply.json()) == (200, {"items": [], "next_page_token": ""})


def test_patch_sets_and_clears_description_and_metadata(alice: User) -> None:
    etag = put(alice, "c1", "p.txt", b"x").headers["etag"]
    url = file_url("c1", "p.txt")
    reply = alice.http.patch(
        url, json={"description": "Quarterly numbers", "metadata": {"tags": ["q3"], "n": 1}}
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["description"], reply.json()["metadata"]) == (
        "Quarterly numbers",
        {"tags": ["q3"], "n": 1},
    )
    assert reply.headers["etag"] == etag, "the content did not change"
    reply = alice.http.patch(url, json={"metadata": None})
    assert (reply.json()["description"], reply.json()["metadata"]) == ("Quarterly numbers", None)
    reply = alice.http.patch(url, json={"description": None})
    assert reply.json()["description"] is None
    assert alice.http.patch(url, json={}).status_code == 400


def test_delete_file_then_it_is_gone(alice: User) -> None:
    stored(alice, "c1", "d.txt", b"x")
    assert alice.http.delete(file_url("c1", "d.txt")).status_code == 204
    reply = alice.http.get(file_url("c1", "d.txt"))
    assert (reply.status_code, reply.json()["error"]["code"], reason(reply)) == (
        404,
        "NOT_FOUND",
        "FILE_NOT_FOUND",
    )
    assert alice.http.delete(file_url("c1", "d.txt")).status_code == 404


def test_if_match_guards_put_patch_and_delete(alice: User) -> None:
    etag = put(alice, "c1", "g.txt", b"v1").headers["etag"]
    url, stale = file_url("c1", "g.txt"), '"' + "0" * 64 + '"'
    for reply in (
        alice.http.put(url, content=b"v2", headers={"If-Match": stale}),
        alice.http.patch(url, json={"description": "d"}, headers={"If-Match": stale}),
        alice.http.delete(url, headers={"If-Match": stale}),
        alice.http.post(f"{url}:replace", json={"old": "v", "new": "w"}, headers={"If-Match": stale}),
    ):
        assert (reply.status_code, reason(reply)) == (412, "ETAG_MISMATCH"), reply.text
    assert alice.http.get(url).content == b"v1"
    replaced = alice.http.put(url, content=b"v2", headers={"If-Match": f'"other", {etag}'})
    assert replaced.status_code == 200
    assert alice.http.patch(url, json={"description": "d"}, headers={"If-Match": "*"}).status_code == 200
    assert alice.http.delete(url, headers={"If-Match": etag}).status_code == 412, "the ETag changed with v2"
    assert alice.http.delete(url, headers={"If-Match": replaced.headers["etag"]}).status_code == 204


def test_if_match_on_a_missing_file_and_if_none_match_on_an_existing_one_fail(alice: User) -> None:
    url = file_url("c1", "new.txt")
    assert alice.http.put(url, content=b"x", headers={"If-Match": "*"}).status_code == 412
    assert alice.http.get(url).status_code == 404
    assert alice.http.put(url, content=b"x", headers={"If-None-Match": "*"}).status_code == 201
    reply = alice.http.put(url, content=b"y", headers={"If-None-Match": "*"})
    assert (reply.status_code, reason(reply)) == (412, "FILE_EXISTS")


def test_download_with_current_if_none_match_is_304(alice: User) -> None:
    etag = put(alice, "c1", "cached.txt", b"x").headers["etag"]
    reply = alice.http.get(file_url("c1", "cached.txt"), headers={"If-None-Match": etag})
    assert (reply.status_code, reply.content, reply.headers["etag"]) == (304, b"", etag)


def test_replace_edits_text_in_place_and_returns_the_new_etag(alice: User) -> None:
    etag = put(alice, "c1", "todo.md", "- [ ] a\n- [ ] b\n- [ ] c\n").headers["etag"]
    url = file_url("c1", "todo.md") + ":replace"
    reply = alice.http.post(url, json={"old": "[ ]", "new": "[x]", "count": 2}, headers={"If-Match": etag})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["replacements"] == 2
    assert reply.headers["etag"] == f'"{body["sha256"]}"' != etag
    assert alice.http.get(file_url("c1", "todo.md")).text == "- [x] a\n- [x] b\n- [ ] c\n"
    every = alice.http.post(url, json={"old": "- ", "new": "* "})
    assert every.json()["replacements"] == 3
    missing = alice.http.post(url, json={"old": "absent", "new": "x"})
    assert (missing.status_code, reason(missing)) == (400, "TEXT_NOT_FOUND")
    assert alice.http.post(url, json={"old": "", "new": "x"}).status_code == 400
    assert alice.http.post(url, json={"old": "a", "new": "b", "count": 0}).status_code == 400


def test_replace_in_a_file_that_is_not_utf8_is_400(alice: User) -> None:
    stored(alice, "c1", "latin1.txt", "caf\u00e9".encode("latin-1"))
    reply = alice.http.post(file_url("c1", "latin1.txt") + ":replace", json={"old": "caf", "new": "x"})
    assert (reply.status_code, reason(reply)) == (400, "NOT_UTF8_TEXT")
    assert alice.http.get(file_url("c1", "latin1.txt")).content == b"caf\xe9"


def test_post_to_a_file_without_a_custom_method_is_404(alice: User) -> None:
    stored(alice, "c1", "x.txt", b"x")
    assert alice.http.post(file_url("c1", "x.txt"), json={"old": "x", "new": "y"}).status_code == 404


def test_file_routes_need_a_token(system: System) -> None:
    with system.anonymous() as anonymous:
        assert anonymous.put(file_url("c1", "x.txt"), content=b"x").status_code == 401
        assert anonymous.get("/api/v1/chats/c1/files").status_code == 401
        assert anonymous.get("/api/chat-files/c1").status_code == 401
