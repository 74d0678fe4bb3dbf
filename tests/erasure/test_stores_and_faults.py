"""Erasure on the local and S3 blob stores, and erasure interrupted: a service down mid-way, the
exports process killed by PID mid-erasure or at a random moment, then resumed by a new process.
Each ends completed with nothing of the user left and everything of another user in place."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.erasure.world import assert_erased, assert_intact, follow, seed, start
from tests.support.s3 import S3Server
from tests.support.system import System, User

# A crashed worker's erasure is taken again after this many seconds.
FAST_JOBS = {"DEPOT_EXPORT_JOB_LEASE_SECONDS": "2", "DEPOT_EXPORT_JOB_POLL_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def local_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("erasure-local"))
    with System.on_own_database(
        directory,
        DEPOT_BLOB_STORE=f"local:{directory / 'blobs'}",
        DEPOT_WEBHOOK_ALLOW_PRIVATE="true",
        **FAST_JOBS,
    ) as system:
        yield system


@pytest.fixture(scope="module")
def s3_system(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("erasure-s3"))
    with System.on_own_database(
        directory,
        DEPOT_BLOB_STORE=f"s3://{s3_server.bucket}",
        DEPOT_S3_ENDPOINT_URL=s3_server.endpoint_url,
        **FAST_JOBS,
        **s3_server.credentials(),
    ) as system:
        yield system


def users(system: System) -> tuple[User, User]:
    return system.client(), system.client()


def erasure_row(system: System, erasure_id: str) -> Any:
    with psycopg.connect(system.database.url) as conn:
        return conn.execute(
            "SELECT status, steps, attempts, last_error, lease_owner FROM exports.erasures WHERE id = %s",
            (erasure_id,),
        ).fetchone()


def process_of(system: System, service: str) -> tuple[int, int]:
    """The PID of the service's process and the port it serves on."""
    key = next(k for k in system.stack.processes if k.split("-")[0] == service)
    port = system.stack.launches[key][1].get(f"DEPOT_{service.upper()}_PORT")
    return system.stack.processes[key].pid, int(port or system.stack.grpc_address(service).rpartition(":")[2])


def restart(system: System, service: str) -> None:
    """Kills the service's process by its PID (a crash: no drain) and starts a new one on its port."""
    pid, port = process_of(system, service)
    system.kill(pid)
    system.start_replica(service, port)


def reachable(user: User, *, seconds: float = 30) -> None:
    """Waits until the gateway reaches every service again: its channel to a restarted one retries
    a refused connection with backoff (up to 2 s) and answers 503 meanwhile."""
    deadline = time.monotonic() + seconds
    for path in ("/api/v1/prompts", "/api/v1/chats", "/api/v1/exports"):
        while (reply := user.http.get(path)).status_code == 503:
            assert time.monotonic() < deadline, reply.text
            time.sleep(0.1)


def deliveries(system: System, webhook_ids: list[str]) -> int:
    with psycopg.connect(system.database.url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM exports.webhook_deliveries WHERE webhook_id::text = ANY(%s)", (webhook_ids,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_erasure_on_the_local_store_leaves_no_file_of_the_user(local_system: System) -> None:
    alice, bob = users(local_system)
    mine, theirs = seed(alice, webhook=True), seed(bob)
    deadline = time.monotonic() + 30
    while not deliveries(local_system, mine.webhooks):  # the webhook has deliveries to lose
        assert time.monotonic() < deadline, "no delivery was queued for the webhook"
        time.sleep(0.1)
    follow(alice, start(alice)["id"])
    assert_erased(alice, mine)
    assert deliveries(local_system, mine.webhooks) == 0
    assert_intact(bob, theirs)
    root = Path(local_system.stack.env["DEPOT_BLOB_STORE"].removeprefix("local:"))
    left = [p for p in root.rglob("*") if p.is_file() and any(i in str(p) for i in mine.exports)]
    assert left == [], f"files of the erased user's exports are left: {left}"


@pytest.mark.s3
def test_erasure_on_s3_leaves_no_object_of_the_user(s3_system: System, s3_server: S3Server) -> None:
    alice, bob = users(s3_system)
    mine, theirs = seed(alice), seed(bob)
    client = s3_server.client()

    def in_bucket(key: str) -> bool:
        try:
            client.head_object(Bucket=s3_server.bucket, Key=key)
        except ClientError:
            return False
        return True

    assert all(in_bucket(k) for k in mine.blob_keys), "the seeded exports are in the bucket"
    follow(alice, start(alice)["id"])
    assert_erased(alice, mine, store=in_bucket)
    assert_intact(bob, theirs)
    listed = client.list_objects_v2(Bucket=s3_server.bucket).get("Contents", [])
    left = [o["Key"] for o in listed if any(i in o["Key"] for i in mine.exports)]
    assert left == [], f"objects of the erased user's exports are left: {left}"


def test_an_erasure_stopped_by_a_service_outage_and_a_crash_is_finished_by_a_new_process(
    local_system: System,
) -> None:
    alice, bob = users(local_system)
    mine, theirs = seed(alice), seed(bob)
    files_pid, files_port = process_of(local_system, "files")
    local_system.kill(files_pid)  # the injected failure
    erasure_id = start(alice)["id"]
    deadline = time.monotonic() + 60
    while True:  # mid-way: prompts erased, files failing
        status, steps, _, last_error, _ = erasure_row(local_system, erasure_id)
        if steps.get("prompts", {}).get("completed_at") and last_error:
            break
        assert time.monotonic() < deadline, (status, steps, last_error)
        time.sleep(0.05)
    assert status == "processing" and not steps.get("files", {}).get("completed_at"), steps
    assert last_error == "UPSTREAM_UNAVAILABLE", last_error
    assert alice.http.get("/api/v1/prompts").json()["items"] == [], "the prompts step is done"
    assert start(alice)["id"] == erasure_id, "asked again while it runs: the same erasure"
    path = f"/api/v1/account/erasures/{erasure_id}"
    assert bob.http.get(path).status_code == 404, "while it runs, it is its user's (and admins') only"
    assert local_system.client(admin=True).http.get(path).json()["status"] == "processing"
    late = alice.create_prompt(original_text="written after the prompts step")  # must go too
    mine.prompts.append(late["id"])
    restart(local_system, "exports")  # the process driving it dies mid-erasure
    local_system.start_replica("files", files_port)
    done = follow(alice, erasure_id)
    assert done["attempts"] >= 2 and done["last_error"] is None, done
    reachable(alice)
    assert_erased(alice, mine)
    assert_intact(bob, theirs)


@pytest.mark.parametrize("run", range(3))
def test_an_erasure_killed_at_a_random_moment_completes_after_a_restart(
    local_system: System, run: int
) -> None:
    alice, bob = users(local_system)
    mine, theirs = seed(alice, prompts=6, files=4), seed(bob, prompts=1, files=1)
    pause = random.uniform(0, 0.4)
    erasure_id = start(alice)["id"]
    time.sleep(pause)
    before = erasure_row(local_system, erasure_id)
    restart(local_system, "exports")
    done = follow(alice, erasure_id)
    assert done["status"] == "completed", (pause, before, done)
    assert_erased(alice, mine)
    assert_intact(bob, theirs)
    assert bob.http.get(f"/api/v1/account/erasures/{erasure_id}").status_code == 200, "done: it names nobody"
    again = follow(alice, start(alice)["id"])
    assert [s["deleted_rows"] for s in again["steps"]] == [0, 0, 0], "erasing again finds nothing"
