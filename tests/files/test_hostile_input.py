"""Hostile input to the files routes (issue 13): numbers no format can give back, unbounded range
positions, conditional headers read loosely, names Windows reads as something else, and curl's
default form type on a file upload (issue 14)."""

from __future__ import annotations

import io
import zipfile

import httpx
import psycopg
import pytest

from tests.files.support import file_url, put, reason, stored
from tests.support.system import System, User

ARTIFACTS = "/api/v1/chats/c1/artifacts"


def _post_raw(user: User, url: str, body: str) -> httpx.Response:
    return user.http.post(url, content=body.encode(), headers={"Content-Type": "application/json"})


# 13.4: numbers in artifacts


def test_an_artifact_gives_back_each_number_as_the_type_it_was_given(alice: User, system: System) -> None:
    rows = [[1e19, 1e18, 9223372036854775807], [-1.7976931348623157e308, 5e-324, -9223372036854775808]]
    created = alice.http.post(ARTIFACTS, json={"title": "t", "columns": ["a", "b", "c"], "rows": rows})
    assert created.status_code == 201, created.text
    fetched = alice.http.get(f"/api/v1/artifacts/{created.json()['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["rows"] == rows
    assert [[type(v) for v in row] for row in fetched.json()["rows"]] == [[float, float, int]] * 2
    for fmt in ("json", "csv", "xlsx"):
        export = alice.http.post(
            "/api/v1/exports", json={"source": f"artifacts/{created.json()['id']}", "format": fmt}
        )
        assert export.status_code in (200, 201), (fmt, export.text)


def test_an_artifact_stored_with_a_number_beyond_int64_reads_back_as_the_double_it_was(
    alice: User, system: System
) -> None:
    created = alice.http.post(ARTIFACTS, json={"title": "t", "columns": ["a", "b"], "rows": [[1, 2]]}).json()
    with psycopg.connect(system.database.url, autocommit=True) as connection:
        # As an older Depot stored [[1e19, -1e300]]: jsonb gave the doubles back as integers.
        connection.execute(
            "UPDATE files.artifacts SET rows = %s::jsonb WHERE id = %s",
            (f"[[10000000000000000000, -1{'0' * 300}]]", created["id"]),
        )
    fetched = alice.http.get(f"/api/v1/artifacts/{created['id']}")
    assert (fetched.status_code, fetched.json()["rows"]) == (200, [[1e19, -1e300]]), fetched.text


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"title":"t","columns":["a","b"],"rows":[[1,9223372036854775808]]}', "rows[0][1]"),
        ('{"title":"t","columns":["a"],"rows":[[0],[-9223372036854775809]]}', "rows[1][0]"),
        ('{"title":"t","columns":["a"],"rows":[[1e400]]}', ""),
        ('{"title":"t","columns":["a"],"rows":[[NaN]]}', ""),
        ('{"title":"t","columns":["a"],"rows":[[-Infinity]]}', ""),
    ],
)
def test_a_number_no_format_can_hold_is_400_and_nothing_is_stored(alice: User, body: str, where: str) -> None:
    reply = _post_raw(alice, ARTIFACTS, body)
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "INVALID_ARGUMENT"), reply.text
    assert where in reply.json()["error"]["message"]
    assert alice.http.get(ARTIFACTS).json()["items"] == []


def test_an_artifact_can_be_deleted_by_its_owner_only(alice: User, bob: User) -> None:
    artifact = alice.http.post(ARTIFACTS, json={"title": "t", "columns": ["a"], "rows": [[1]]}).json()
    kept = alice.http.post(ARTIFACTS, json={"title": "kept", "columns": ["a"], "rows": []}).json()
    before = alice.http.get("/api/v1/chats").json()["items"][0]
    url = f"/api/v1/artifacts/{artifact['id']}"
    refused = bob.http.delete(url)
    assert (refused.status_code, reason(refused)) == (404, "ARTIFACT_NOT_FOUND")
    assert alice.http.delete(url).status_code == 204
    assert alice.http.get(url).status_code == 404
    assert alice.http.delete(url).status_code == 404
    assert alice.http.delete("/api/v1/artifacts/not-a-uuid").status_code == 404
    after = alice.http.get("/api/v1/chats").json()["items"][0]
    assert (after["artifact_count"], before["artifact_count"]) == (1, 2)
    assert after["revision"] > before["revision"], "a delete is a write: the chat's revision changes"
    assert [a["id"] for a in alice.http.get(ARTIFACTS).json()["items"]] == [kept["id"]]


# 13.5: metadata JSON cannot carry


@pytest.mark.parametrize(
    "body",
    [
        '{"metadata": {"a": NaN}}',
        '{"metadata": {"b": 1e400}}',
        '{"metadata": {"a": NaN, "b": 1e400}}',
        '{"metadata": {"c": [-Infinity]}}',
    ],
)
def test_metadata_json_cannot_carry_is_400_on_patch_as_on_put(alice: User, body: str) -> None:
    stored(alice, "c1", "m.txt", b"x", params={"metadata": '{"kept": true}'})
    reply = alice.http.patch(
        file_url("c1", "m.txt"), content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "INVALID_ARGUMENT"), reply.text
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"][0]["metadata"] == {"kept": True}
    metadata = body.removeprefix('{"metadata": ').removesuffix("}")
    reply = put(alice, "c1", "m.txt", b"y", params={"metadata": metadata})
    assert reply.status_code == 400, reply.text
    assert alice.http.get(file_url("c1", "m.txt")).content == b"x"


# 13.6: byte positions beyond any file


@pytest.mark.parametrize(
    ("header", "status", "content"),
    [
        ("bytes=9223372036854775808-", 416, b""),
        ("bytes=" + "9" * 5000 + "-", 416, b""),
        ("bytes=18446744073709551616-18446744073709551617", 416, b""),
        ("bytes=0-" + "9" * 5000, 206, b"0123456789"),
        ("bytes=3-9223372036854775808", 206, b"3456789"),
        ("bytes=-" + "9" * 5000, 206, b"0123456789"),
        ("bytes=" + "0" * 5000 + "5-", 206, b"56789"),
    ],
)
def test_range_positions_beyond_any_file_are_416_or_clamped(
    alice: User, header: str, status: int, content: bytes
) -> None:
    stored(alice, "c1", "r.txt", b"0123456789")
    reply = alice.http.get(file_url("c1", "r.txt"), headers={"Range": header})
    assert reply.status_code == status, reply.text[:300]
    if status == 206:
        assert reply.content == content
    else:
        assert reply.headers["content-range"] == "bytes */10"


# 13.11: If-Range


def test_if_range_with_an_old_etag_gives_the_whole_new_file(alice: User) -> None:
    url = file_url("c1", "resume.bin")
    v1 = put(alice, "c1", "resume.bin", b"0123456789").headers["etag"]
    v2 = put(alice, "c1", "resume.bin", b"abcdefghij").headers["etag"]
    stale = alice.http.get(url, headers={"Range": "bytes=5-", "If-Range": v1})
    assert (stale.status_code, stale.content) == (200, b"abcdefghij")
    assert "content-range" not in stale.headers
    current = alice.http.get(url, headers={"Range": "bytes=5-", "If-Range": v2})
    assert (current.status_code, current.content) == (206, b"fghij")
    for validator in (f"W/{v2}", "Sat, 29 Oct 1994 19:43:31 GMT", v2.strip('"')):
        # weak tags never match If-Range; we have no Last-Modified for a date to match
        reply = alice.http.get(url, headers={"Range": "bytes=5-", "If-Range": validator})
        assert (reply.status_code, reply.content) == (200, b"abcdefghij"), validator


# 13.12: conditional requests


def test_if_none_match_compares_weakly_on_download(alice: User) -> None:
    etag = put(alice, "c1", "w.txt", b"x").headers["etag"]
    for header in (f"W/{etag}", f'"other", W/{etag}', f'"other",{etag}'):
        reply = alice.http.get(file_url("c1", "w.txt"), headers={"If-None-Match": header})
        assert (reply.status_code, reply.content) == (304, b""), header
    reply = alice.http.get(file_url("c1", "w.txt"), headers={"If-None-Match": '"other", W/"another"'})
    assert (reply.status_code, reply.content) == (200, b"x")


@pytest.mark.parametrize("header", ['""', ",,,", ", ,", 'W/"{etag}"'])
def test_an_if_match_that_names_no_current_strong_tag_fails_every_write(alice: User, header: str) -> None:
    etag = put(alice, "c1", "g.txt", b"v1").headers["etag"]
    url = file_url("c1", "g.txt")
    condition = {"If-Match": header.replace('"{etag}"', etag)}
    for reply in (
        alice.http.put(url, content=b"v2", headers=condition),
        alice.http.patch(url, json={"description": "d"}, headers=condition),
        alice.http.post(f"{url}:replace", json={"old": "v", "new": "w"}, headers=condition),
        alice.http.delete(url, headers=condition),
    ):
        assert (reply.status_code, reason(reply)) == (412, "ETAG_MISMATCH"), (header, reply.text)
    assert alice.http.get(url).content == b"v1"
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"][0]["description"] is None


def test_if_none_match_with_the_current_etag_fails_every_write(alice: User) -> None:
    etag = put(alice, "c1", "n.txt", b"v1").headers["etag"]
    url = file_url("c1", "n.txt")
    for header in (etag, f"W/{etag}", f'"other", {etag}'):
        condition = {"If-None-Match": header}
        for reply in (
            alice.http.put(url, content=b"v2", headers=condition),
            alice.http.patch(url, json={"description": "d"}, headers=condition),
            alice.http.post(f"{url}:replace", json={"old": "v", "new": "w"}, headers=condition),
            alice.http.delete(url, headers=condition),
        ):
            assert (reply.status_code, reason(reply)) == (412, "ETAG_MATCHES"), (header, reply.text)
    assert alice.http.get(url).content == b"v1"
    replaced = alice.http.put(url, content=b"v2", headers={"If-None-Match": '"other"'})
    assert replaced.status_code == 200, replaced.text
    created = alice.http.put(file_url("c1", "new.txt"), content=b"n", headers={"If-None-Match": etag})
    assert created.status_code == 201, "no file: no ETag matches, so the condition holds"


# 13.16: names Windows would read as something else


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("CON", "FILENAME_RESERVED_ON_WINDOWS"),
        ("NUL.txt", "FILENAME_RESERVED_ON_WINDOWS"),
        ("com1.log", "FILENAME_RESERVED_ON_WINDOWS"),
        ("a.txt.", "FILENAME_TRAILING_DOT"),
        ("x:replace", "FILENAME_HAS_COLON"),
        ("\uff0e\uff0e\uff0fetc", "FILENAME_HAS_SEPARATOR"),
    ],
)
def test_a_name_windows_reads_as_a_device_stream_or_path_is_refused(alice: User, name: str, why: str) -> None:
    reply = put(alice, "c1", name, b"x")
    assert (reply.status_code, reason(reply)) == (400, why), reply.text
    assert reply.json()["error"]["details"][0]["metadata"] == {"field": "filename"}
    assert alice.http.get("/api/v1/chats/c1/files").json()["items"] == []


def _rename(system: System, user: User, chat_id: str, old: str, new: str) -> None:
    """Gives a stored file a name today's rules refuse, as an older Depot could have stored it."""
    with psycopg.connect(system.database.url, autocommit=True) as connection:
        renamed = connection.execute(
            "UPDATE files.chat_files SET filename = %s WHERE owner = %s AND chat_id = %s AND filename = %s",
            (new, user.id, chat_id, old),
        ).rowcount
    assert renamed == 1


def test_the_chat_zip_names_legacy_unsafe_files_safely_and_uniquely(alice: User, system: System) -> None:
    legacy = ["CON", "NUL.txt", "a.txt.", "x:replace", "\uff0e\uff0e\uff0fetc"]
    for index, name in enumerate(legacy):
        stored(alice, "legacy", f"f{index}", f"content {index}")
        _rename(system, alice, "legacy", f"f{index}", name)
    stored(alice, "legacy", "_CON", b"a file really called _CON")
    stored(alice, "legacy", 'say "hi".txt', b"quotes")
    export = alice.http.post("/api/v1/exports", json={"source": "chats/legacy", "format": "zip"})
    assert export.status_code in (200, 201), export.text
    content = alice.http.get(f"/api/v1/exports/{export.json()['id']}/content")
    with zipfile.ZipFile(io.BytesIO(content.content)) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    assert entries == {
        "_CON (2)": b"content 0",
        "_NUL.txt": b"content 1",
        "a.txt": b"content 2",
        "x_replace": b"content 3",
        ".._etc": b"content 4",
        "_CON": b"a file really called _CON",
        "say _hi_.txt": b"quotes",
    }


# 14: curl's default type on an upload


def test_curl_data_binary_form_type_counts_as_no_type(alice: User) -> None:
    for name, media, kind in (("notes.txt", "text/plain", "text"), ("data.json", "application/json", "json")):
        body = stored(alice, "c1", name, b"{}", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (body["media_type"], body["file_type"]) == (media, kind), body
        assert alice.http.get(file_url("c1", name)).headers["content-type"] == media
    given = stored(alice, "c1", "page.txt", b"x", headers={"Content-Type": "text/html"})
    assert given["media_type"] == "text/html", "a type that is given stays"
