"""Hostile or broken restores: each is a clear 4xx or a failed job naming the entry, and nothing of
the archive is written (the caller's account stays empty)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.support.system import User
from tests.takeout.support import (
    build,
    entries_of,
    kind_of,
    restore,
    restored,
    sha256,
    small_account,
    takeout,
)


def assert_nothing_written(user: User) -> None:
    assert user.http.get("/api/v1/prompts").json()["items"] == []
    assert user.http.get("/api/v1/feedback").json()["items"] == []
    assert user.http.get("/api/v1/security-scans").json()["items"] == []
    assert user.http.get("/api/v1/chats").json()["items"] == []


@pytest.fixture(scope="module")
def genuine(system) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """The entries of a real takeout."""
    owner = system.client()
    small_account(owner)
    return entries_of(takeout(owner))


def failed_with(user: User, archive: bytes, expected: str) -> list[dict[str, str]]:
    job = restored(user, archive)
    assert job["status"] == "failed", job
    messages = " | ".join(f"{e['path']}: {e['message']}" for e in job["errors"])
    assert expected in messages, f"expected {expected!r} in the errors, got {messages}"
    assert_nothing_written(user)
    return job["errors"]  # type: ignore[no-any-return]


def test_a_file_whose_bytes_differ_from_the_manifest_refuses_the_whole_archive(
    bob: User, genuine: dict[str, bytes]
) -> None:
    entries = list(genuine.items())
    archive = build(entries)
    tampered = [(p, b"tampered" if p.endswith("blob.bin") else d) for p, d in entries]
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("manifest.json"))
    failed_with(bob, build(tampered, manifest=manifest), "size is 8 bytes, manifest.json says 256000")


def test_a_manifest_lying_about_a_hash_refuses_the_archive(bob: User, genuine: dict[str, bytes]) -> None:
    entries = list(genuine.items())
    listed = [{"path": p, "kind": None, "sha256": sha256(d), "size_bytes": len(d)} for p, d in entries]
    for item in listed:
        item["kind"] = kind_of(item["path"])
        if item["path"].endswith("notes.md"):
            item["sha256"] = "0" * 64
    manifest = {"version": 1, "owner": "x", "created_at": "2026-01-01T00:00:00Z", "entries": listed}
    failed_with(bob, build(entries, manifest=manifest), "sha256 is not what manifest.json says")


def test_an_entry_missing_from_the_manifest_or_the_archive_refuses_it(
    bob: User, genuine: dict[str, bytes]
) -> None:
    entries = list(genuine.items())
    archive = build(entries)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("manifest.json"))
    extra = build([*entries, ("chats/c1/files/smuggled.txt", b"hi")], manifest=manifest)
    failed_with(bob, extra, "in the archive but not listed in manifest.json")
    missing = build(entries[1:], manifest=manifest)
    failed_with(bob, missing, "listed in manifest.json but missing from the archive")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../etc/cron.d/evil", "climbs out"),
        ("chats/c1/files/../../../evil", "climbs out"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/evil.dll", "absolute path"),
        ("chats\\c1\\files\\x", "backslash"),
    ],
)
def test_traversal_and_absolute_names_refuse_the_archive(
    bob: User, genuine: dict[str, bytes], name: str, reason: str
) -> None:
    entries = [*genuine.items(), (name, b"payload")]
    failed_with(bob, build(entries, kinds={name: "file"}), reason)


def test_a_name_twice_refuses_the_archive(bob: User, genuine: dict[str, bytes]) -> None:
    entries = list(genuine.items())
    path, data = next((p, d) for p, d in entries if p.endswith("notes.md"))
    with pytest.warns(UserWarning):  # zipfile itself warns about a duplicate name
        archive = build([*entries, (path, data)])
    failed_with(bob, archive, "the name appears twice")


def test_a_zip_bomb_is_refused_before_it_is_inflated(bob: User, genuine: dict[str, bytes]) -> None:
    bomb = b"\0" * (64 * 1024 * 1024)  # 64 MiB of zeros deflate to about 64 KiB
    failed_with(bob, build([*genuine.items(), ("chats/c1/files/zeros.bin", bomb)]), "zip bomb")


def test_a_body_that_is_no_zip_is_400(bob: User) -> None:
    reply = restore(bob, b"this is plain text, not an archive")
    assert reply.status_code == 400, reply.text
    assert "not a zip archive" in reply.json()["error"]["message"]
    assert_nothing_written(bob)


def test_a_truncated_zip_fails_the_job_with_a_reason(bob: User, genuine: dict[str, bytes]) -> None:
    archive = build(list(genuine.items()))
    failed_with(bob, archive[: len(archive) // 2], "not a readable zip archive")


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", ""])
def test_a_wrong_content_type_is_400(bob: User, genuine: dict[str, bytes], content_type: str) -> None:
    reply = restore(bob, build(list(genuine.items())), content_type)
    assert reply.status_code == 400, reply.text
    assert "Content-Type must be application/zip" in reply.json()["error"]["message"]


@pytest.mark.parametrize("body", [b'{"title":', b'{"versions": [1, 2]', b"{\n" + b" " * 100_000])
def test_json_cut_short_is_400(bob: User, body: bytes) -> None:
    reply = restore(bob, body, "application/json")
    assert reply.status_code == 400, reply.text
    assert "not a JSON object" in reply.json()["error"]["message"]
    assert_nothing_written(bob)


def test_json_that_is_no_prompt_export_fails_the_job(bob: User) -> None:
    job = restored(bob, b'{"hello": "world"}', "application/json")
    assert job["status"] == "completed" and job["counts"]["prompts"] == 0, job
    assert "not a prompt session's json export" in job["errors"][0]["message"], job
    assert_nothing_written(bob)
