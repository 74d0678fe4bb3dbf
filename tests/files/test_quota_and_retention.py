"""Storage quotas and retention of chat files, on a system whose users may store QUOTA bytes and whose
files are stale after RETENTION_DAYS unused (the periodic pass is a day away: tests run it by RPC)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
import pytest

from depot.files.v1 import files_pb2 as pb
from depot.files.v1 import files_pb2_grpc
from tests.files.support import file_url, put, reason, stored
from tests.support.system import Database, System, User

QUOTA = 100_000
RETENTION_DAYS = 30


@pytest.fixture(scope="module")
def quota_system(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System.running(
        database,
        Path(tmp_path_factory.mktemp("quota")),
        DEPOT_FILE_QUOTA_BYTES=str(QUOTA),
        DEPOT_FILE_RETENTION_DAYS=str(RETENTION_DAYS),
        DEPOT_FILE_RETENTION_INTERVAL_SECONDS="86400",
    ) as system:
        yield system


@pytest.fixture
def user(quota_system: System) -> Iterator[User]:
    user = quota_system.client()
    yield user
    user.http.close()


@pytest.fixture
def admin(quota_system: System) -> Iterator[User]:
    user = quota_system.client(admin=True)
    yield user
    user.http.close()


def _standing(user: User) -> tuple[int, int]:
    """(used_bytes, quota_bytes) as GET /chats gives them."""
    reply = user.http.get("/api/v1/chats")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return body["used_bytes"], body["quota_bytes"]


def _stored_bytes(user: User, chat_id: str) -> int:
    reply = user.http.get(f"/api/v1/chats/{chat_id}/files", params={"page_size": 1000})
    assert reply.status_code == 200, reply.text
    return sum(f["size_bytes"] for f in reply.json()["items"])


def _quota_error(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 413, reply.text
    [detail] = reply.json()["error"]["details"]
    assert detail["reason"] == "QUOTA_EXCEEDED", detail
    return detail["metadata"]  # type: ignore[no-any-return]


def test_twenty_uploads_racing_to_the_quota_edge_never_take_usage_above_it(user: User) -> None:
    size = 8_000  # 12 fit in the quota, 8 do not

    def upload(n: int) -> int:
        with httpx.Client(base_url=user.http.base_url, headers=user.http.headers, timeout=60) as http:
            return http.put(file_url("race", f"f{n}.bin"), content=b"r" * size).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(upload, range(20)))
    assert sorted(codes) == [201] * (QUOTA // size) + [413] * (20 - QUOTA // size), codes
    used, quota = _standing(user)
    assert quota == QUOTA
    assert used == _stored_bytes(user, "race") == codes.count(201) * size <= QUOTA


def test_an_upload_over_the_quota_is_413_with_the_quota_and_the_usage(user: User) -> None:
    stored(user, "c", "big.bin", b"b" * 60_000)
    reply = put(user, "c", "more.bin", b"m" * 50_000)  # announced, small: refused when counted at commit
    assert _quota_error(reply) == {"quota_bytes": str(QUOTA), "used_bytes": "60000"}
    reply = put(user, "c", "huge.bin", b"h" * 600_000)  # announced, over 512 KiB: refused before its bytes
    assert _quota_error(reply) == {"quota_bytes": str(QUOTA), "used_bytes": "60000"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused when the bytes are counted at commit
        yield from (b"m" * 10_000 for _ in range(5))

    reply = put(user, "c", "streamed.bin", chunks())
    assert _quota_error(reply) == {"quota_bytes": str(QUOTA), "used_bytes": "60000"}
    assert user.http.get(file_url("c", "streamed.bin")).status_code == 404
    assert _standing(user) == (60_000, QUOTA)


def test_a_replace_that_would_cross_the_quota_is_refused_and_keeps_the_old_bytes(user: User) -> None:
    stored(user, "c", "a.txt", "x" * 50_000)
    stored(user, "c", "b.txt", "y" * 40_000)
    assert _quota_error(put(user, "c", "a.txt", "z" * 70_000))["used_bytes"] == "90000"
    reply = user.http.post(file_url("c", "a.txt:replace"), json={"old": "x", "new": "xx"})
    assert _quota_error(reply) == {"quota_bytes": str(QUOTA), "used_bytes": "90000"}
    assert user.http.get(file_url("c", "a.txt")).content == b"x" * 50_000
    assert _standing(user) == (90_000, QUOTA)
    # Shrinking is always allowed, and a replace that fits is counted by its difference.
    stored(user, "c", "a.txt", "z" * 55_000)
    assert _standing(user) == (95_000, QUOTA)


def test_deleting_a_file_or_a_chat_frees_its_bytes(user: User) -> None:
    stored(user, "c1", "a.bin", b"a" * 30_000)
    stored(user, "c2", "b.bin", b"b" * 20_000)
    stored(user, "c2", "c.bin", b"c" * 10_000)
    assert _standing(user)[0] == 60_000
    assert user.http.delete(file_url("c1", "a.bin")).status_code == 204
    assert _standing(user)[0] == 30_000
    assert user.http.delete("/api/v1/chats/c2").status_code == 204
    assert _standing(user)[0] == 0
    stored(user, "c1", "full.bin", b"f" * QUOTA)


def test_an_admin_overrides_a_users_quota_and_can_give_it_back(user: User, admin: User) -> None:
    stored(user, "c", "a.bin", b"a" * 90_000)
    assert put(user, "c", "b.bin", b"b" * 20_000).status_code == 413
    reply = admin.http.put(f"/api/v1/users/{user.id}/quota", json={"quota_bytes": 200_000})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "user_id": user.id,
        "quota_bytes": 200_000,
        "used_bytes": 90_000,
        "overridden": True,
    }
    stored(user, "c", "b.bin", b"b" * 20_000)
    assert _standing(user) == (110_000, 200_000)
    reply = admin.http.put(f"/api/v1/users/{user.id}/quota", json={"quota_bytes": None})
    assert reply.json() == {
        "user_id": user.id,
        "quota_bytes": QUOTA,
        "used_bytes": 110_000,
        "overridden": False,
    }
    assert _quota_error(put(user, "c", "c.bin", b"c"))["used_bytes"] == "110000"
    stored(user, "c", "a.bin", b"a")  # over a lowered quota, shrinking still works


def test_a_quota_override_is_for_admins_and_for_users_that_exist(user: User, admin: User) -> None:
    stored(user, "c", "a.bin", b"a")
    reply = user.http.put(f"/api/v1/users/{user.id}/quota", json={"quota_bytes": 10**9})
    assert reply.status_code == 403, reply.text
    reply = admin.http.put("/api/v1/users/nobody-ever-stored-here/quota", json={"quota_bytes": 1})
    assert reply.status_code == 404 and reason(reply) == "USER_NOT_FOUND", reply.text
    for bad_id in ("a%00b", "x" * 256, "tab%09id"):
        reply = admin.http.put(f"/api/v1/users/{bad_id}/quota", json={"quota_bytes": 1})
        assert reply.status_code == 400 and reason(reply) == "INVALID_ARGUMENT", reply.text
    reply = admin.http.put(f"/api/v1/users/{user.id}/quota", json={"quota_bytes": -1})
    assert reply.status_code == 400, reply.text
    reply = admin.http.put(f"/api/v1/users/{user.id}/quota", json={})
    assert reply.status_code == 400, reply.text


def _age(system: System, owner: str, filenames: list[str], days: int) -> None:
    """Makes files look unused for `days` (the test's clock: timestamps set through SQL)."""
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE files.chat_files SET last_accessed_at = now() - make_interval(days => %s)"
            " WHERE owner = %s AND filename = ANY(%s)",
            (days, owner, filenames),
        )


def test_retention_lists_then_removes_exactly_the_stale_files(quota_system: System, user: User) -> None:
    for name, size in (("old.bin", 1_000), ("older.bin", 2_000), ("read.bin", 3_000), ("new.bin", 4_000)):
        stored(user, "c", name, b"r" * size)
    _age(quota_system, user.id, ["old.bin", "older.bin", "read.bin"], RETENTION_DAYS + 1)
    _age(quota_system, user.id, ["older.bin"], RETENTION_DAYS + 5)
    assert user.http.get(file_url("c", "read.bin")).status_code == 200  # a download marks it used
    admin = (("authorization", f"Bearer {quota_system.token('retention-admin', admin=True)}"),)
    with quota_system.channel("files") as channel:
        stub = files_pb2_grpc.FilesServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.SweepStaleFiles(pb.SweepStaleFilesRequest(dry_run=True), metadata=user.metadata)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        dry = stub.SweepStaleFiles(pb.SweepStaleFilesRequest(dry_run=True), metadata=admin)
        mine = [(f.chat_id, f.filename, f.size_bytes) for f in dry.files if f.owner == user.id]
        assert mine == [("c", "older.bin", 2_000), ("c", "old.bin", 1_000)]
        assert dry.retention_days == RETENTION_DAYS
        assert _standing(user)[0] == 10_000  # the dry run removed nothing
        swept = stub.SweepStaleFiles(pb.SweepStaleFilesRequest(), metadata=admin)
    assert sorted(f.filename for f in swept.files if f.owner == user.id) == ["old.bin", "older.bin"]
    listed = user.http.get("/api/v1/chats/c/files").json()["items"]
    assert sorted(f["filename"] for f in listed) == ["new.bin", "read.bin"]
    assert _standing(user)[0] == 7_000
    assert quota_system.logs().count('"file_retention_removed"') >= 2


def test_the_retention_command_lists_stale_files_on_a_dry_run(quota_system: System, user: User) -> None:
    stored(user, "c", "forgotten.bin", b"f" * 1_234)
    _age(quota_system, user.id, ["forgotten.bin"], 400)
    env = {**os.environ, **quota_system.stack.env}
    command = [sys.executable, "-m", "cli.main", "files", "retention", "--dry-run", "--days", "365"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{user.id}\tc\tforgotten.bin\t1234\t" in done.stdout, done.stdout
    assert "dry run: nothing removed" in done.stderr
    assert user.http.get(file_url("c", "forgotten.bin")).status_code == 200
