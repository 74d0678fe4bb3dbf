"""Retention's periodic pass on two replicas of the files service: stale files go by themselves, each
removed (and logged) once, while files in use stay."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest

from tests.files.support import file_url, stored
from tests.support.system import Database, System


def test_the_periodic_pass_removes_stale_files_once_across_replicas(
    database: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with System.running(
        database,
        Path(tmp_path_factory.mktemp("retention")),
        replicas=2,
        DEPOT_FILE_RETENTION_DAYS="7",
        DEPOT_FILE_RETENTION_INTERVAL_SECONDS="1",
    ) as system:
        user = system.client()
        stale = [stored(user, "c", f"stale-{n}.bin", b"s" * 100)["id"] for n in range(5)]
        stored(user, "c", "fresh.bin", b"f" * 10)
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(
                "UPDATE files.chat_files SET last_accessed_at = now() - interval '8 days'"
                " WHERE owner = %s AND filename LIKE 'stale-%%'",
                (user.id,),
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            names = [f["filename"] for f in user.http.get("/api/v1/chats/c/files").json()["items"]]
            if names == ["fresh.bin"]:
                break
            time.sleep(0.2)
        assert names == ["fresh.bin"]
        assert user.http.get("/api/v1/chats").json()["used_bytes"] == 10
        assert user.http.get(file_url("c", "fresh.bin")).content == b"f" * 10
        removals = [
            event["file_id"]
            for line in system.logs().splitlines()
            if '"file_retention_removed"' in line
            for event in [json.loads(line)]
            if event.get("owner") == user.id
        ]
        assert sorted(removals) == sorted(stale)
