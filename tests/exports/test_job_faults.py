"""Export jobs under faults, with real processes: a worker killed mid-job, PostgreSQL restarted
mid-job, the S3 store unreachable. Each system here has a database of its own, since these tests
stop what other tests share.

The jobs are slow because their data is large (thousands of versions rendered as pdf), not
because anything is made to sleep.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.exports import readers
from tests.exports.conftest import content, create_session, export, follow
from tests.support.s3 import S3Server
from tests.support.system import Database, System, User, free_port

LEASE_SECONDS = 2
WAIT_MAX_SECONDS = 1
PROMPTS, VERSIONS = 60, 100  # 6,000 versions: a pdf job of a few seconds
TEXT = "A version long enough that rendering it takes real work. " * 12


@dataclass
class Pair:
    """A system whose gateway reaches two exports processes (as a Kubernetes Service would)."""

    system: System
    ports: tuple[int, int]
    heavy: User

    def exports_pids(self) -> set[int]:
        return {p.pid for key, p in self.system.stack.processes.items() if key.startswith("exports")}


def job_settings(**extra: str) -> dict[str, str]:
    return {
        "DEPOT_EXPORT_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "DEPOT_EXPORT_WAIT_MAX_SECONDS": str(WAIT_MAX_SECONDS),
        "DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE": "1000",
        **extra,
    }


def seed_versions(user: User) -> None:
    """PROMPTS × VERSIONS versions through the API."""
    for _ in range(PROMPTS):
        user.create_prompt(versions=[{"text": TEXT, "source": "syntax"} for _ in range(VERSIONS)])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    directory = Path(tmp_path_factory.mktemp("job-faults"))
    database = Database.start(directory)
    ports = (free_port(), free_port())
    settings = job_settings(
        DEPOT_EXPORTS_PORT=str(ports[0]),
        DEPOT_EXPORTS_ADDRESS=f"ipv4:127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}",
    )
    try:
        with System.running(database, directory, **settings) as system:
            system.start_replica("exports", ports[1])
            heavy = system.client()
            seed_versions(heavy)
            yield Pair(system, ports, heavy)
            heavy.http.close()
    finally:
        database.postgres.stop()


def job_row(database: Database, export_id: str) -> Any:
    with psycopg.connect(database.url) as conn:
        return conn.execute(
            "SELECT status, lease_owner, attempts, rows_rendered FROM exports.exports WHERE id = %s",
            (export_id,),
        ).fetchone()


def rendering(database: Database, export_id: str, *, seconds: float = 60) -> Any:
    """The job's row once a worker holds it and has rendered some rows (the job is mid-way)."""
    deadline = time.monotonic() + seconds
    while True:
        row = job_row(database, export_id)
        if row[0] == "processing" and row[3] > 0:
            return row
        assert row[0] in ("queued", "processing") and time.monotonic() < deadline, f"not mid-job: {row}"
        time.sleep(0.05)


def assert_whole(user: User, body: dict[str, Any]) -> None:
    """Every seeded version was rendered, and the bytes served are the ones the receipt describes."""
    assert PROMPTS * VERSIONS == body["receipt"]["row_count"] == body["rows_rendered"], body
    data = content(user, body["id"]).content
    assert hashlib.sha256(data).hexdigest() == body["sha256"] and len(data) == body["size_bytes"]
    assert readers.finds(body["format"], readers.text_of(body["format"], data), TEXT.split(".")[0])


def test_a_job_whose_worker_is_killed_is_finished_by_the_other_process(pair: Pair) -> None:
    database = pair.system.database
    accepted = export(pair.heavy, "datasets/temporal", "pdf")
    assert accepted.status_code == 202, accepted.text
    export_id = accepted.json()["id"]
    _, owner, attempts, _ = rendering(database, export_id)
    assert attempts == 1
    doomed = int(owner.split(":")[1])
    assert doomed in pair.exports_pids(), (owner, pair.exports_pids())
    killed = pair.system.kill(doomed)
    done = follow(pair.heavy, accepted)
    assert done["status"] == "completed", done
    assert done["attempts"] == 2, "the survivor took the job when the lease ran out"
    _, finisher, _, _ = job_row(database, export_id)
    assert int(finisher.split(":")[1]) in pair.exports_pids() and int(finisher.split(":")[1]) != doomed
    assert_whole(pair.heavy, done)
    port = pair.ports[0] if killed == "exports" else int(killed.split("-")[1])
    pair.system.start_replica("exports", port)  # two processes again for the next test


def test_wait_is_cut_to_its_bound_while_a_job_runs(pair: Pair) -> None:
    accepted = export(pair.heavy, "datasets/temporal", "pdf", csv_mode="raw")
    assert accepted.status_code == 202, accepted.text
    started = time.monotonic()
    reply = pair.heavy.http.get(accepted.headers["location"], params={"wait": 600})
    took = time.monotonic() - started
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] in ("queued", "processing"), "the job takes longer than the bound"
    assert WAIT_MAX_SECONDS - 0.6 <= took < WAIT_MAX_SECONDS + 2, f"waited {took:.1f} s"
    assert follow(pair.heavy, accepted)["status"] == "completed"


def test_a_job_running_when_postgresql_restarts_completes_after_it_returns(pair: Pair) -> None:
    database = pair.system.database
    pair.heavy.create_prompt(versions=[{"text": TEXT, "source": "domain"}])  # a new revision: a new job
    accepted = export(pair.heavy, "datasets/temporal", "pdf")
    assert accepted.status_code == 202, accepted.text
    export_id = accepted.json()["id"]
    rendering(database, export_id)
    database.restart(down_seconds=LEASE_SECONDS + 1)
    deadline = time.monotonic() + 180
    while (row := job_row(database, export_id))[0] != "completed":
        assert row[0] in ("queued", "processing") and time.monotonic() < deadline, (
            f"the job did not recover: {row}"
        )
        time.sleep(0.2)
    assert row[3] == PROMPTS * VERSIONS + 1, row
    assert pair.system.stack.exited() == [], "every process outlived the restart"


@pytest.fixture(scope="module")
def on_s3(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("job-s3"))
    settings = job_settings(
        DEPOT_BLOB_STORE=f"s3://{s3_server.bucket}",
        DEPOT_S3_ENDPOINT_URL=s3_server.endpoint_url,
        DEPOT_EXPORT_JOB_MAX_ATTEMPTS="2",
        **s3_server.credentials(),
    )
    with System.on_own_database(directory, **settings) as system:
        yield system


def test_an_unreachable_s3_fails_the_job_with_the_reason_answers_503_and_loses_nothing(
    on_s3: System, s3_server: S3Server
) -> None:
    user = on_s3.client()
    session = create_session(user)
    stored = export(user, f"prompts/{session.id}", "json")
    assert stored.status_code == 201, stored.text
    before = content(user, stored.json()["id"]).content
    s3_server.stop()
    try:
        queued = export(user, "datasets/temporal", "csv")
        assert queued.status_code == 202, queued.text
        failed = follow(user, queued)
        assert failed["status"] == "failed" and failed["attempts"] == 2, failed
        assert "S3" in failed["error"] and "after 2 attempts" in failed["error"], failed["error"]
        unreachable = [
            export(user, f"prompts/{session.id}", "yaml"),
            user.http.get(f"/api/v1/exports/{stored.json()['id']}/content"),
        ]
        assert [r.status_code for r in unreachable] == [503, 503], [r.text for r in unreachable]
        assert all(r.json()["error"]["code"] == "UNAVAILABLE" for r in unreachable)
    finally:
        s3_server.start()
    assert content(user, stored.json()["id"]).content == before, "what was stored is still there"
    again = export(user, "datasets/temporal", "csv")
    assert again.status_code == 202 and again.json()["id"] != queued.json()["id"], (
        "a failed job is tried anew"
    )
    assert follow(user, again)["status"] == "completed"
