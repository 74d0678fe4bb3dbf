"""An import whose worker dies half-way is taken by another replica once its lease runs out, and
finishes: the restore is idempotent, so what the dead worker wrote counts as already there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.system import Database, System
from tests.takeout.generated import account
from tests.takeout.support import restore, takeout
from tests.takeout.test_restore import normalised


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """Two exports processes behind one gateway, with a two-second job lease."""
    directory = Path(tmp_path_factory.mktemp("import-crash"))
    database = Database.start(directory)
    try:
        with System.running(database, directory, replicas=2, DEPOT_EXPORT_JOB_LEASE_SECONDS="2") as system:
            yield system
    finally:
        database.postgres.stop()


def _lease_owner(system: System, import_id: str) -> str | None:
    with psycopg.connect(system.database.url) as conn:
        row = conn.execute("SELECT lease_owner FROM exports.imports WHERE id = %s", (import_id,)).fetchone()
    return row[0] if row else None


def test_an_import_whose_worker_is_killed_is_finished_by_another_replica(two_replicas: System) -> None:
    owner, receiver = two_replicas.client(), two_replicas.client()
    # Enough prompts that the restore outlasts a few heartbeats (every 2/3 s with a 2 s lease), which
    # are when its progress is stored: 120 were restored in half a second, before the first one.
    made = account(owner, seed=3, prompts=600, file_bytes=2 * 1024 * 1024)
    archive = takeout(owner)
    reply = restore(receiver, archive)
    assert reply.status_code == 202, reply.text
    import_id = reply.json()["id"]
    deadline = time.monotonic() + 120
    while True:  # wait until a worker has restored part of it
        job = receiver.http.get(f"/api/v1/imports/{import_id}").json()
        assert job["status"] in ("queued", "processing"), f"it ended before the kill: {job}"
        if job["counts"]["prompts"] >= 10:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    worker = _lease_owner(two_replicas, import_id)
    assert worker is not None
    two_replicas.kill(int(worker.split(":")[1]))  # host:pid:nonce
    while job["status"] in ("queued", "processing"):
        assert time.monotonic() < deadline + 120, job
        time.sleep(0.2)
        job = receiver.http.get(f"/api/v1/imports/{import_id}").json()
    assert job["status"] == "completed" and job["errors"] == [], job
    assert sum(job["counts"].values()) + job["skipped"] >= sum(made.values()), job
    assert normalised(takeout(receiver)) == normalised(archive)
