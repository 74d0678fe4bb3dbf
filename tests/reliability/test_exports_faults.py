"""Faults of the export pipeline, written against the contract of the job queue (DESIGN.md, Scale):
an exports process killed mid-job loses its lease and another process finishes the job; the S3
server stopped mid-upload leaves a failed or a retried export and no dangling bytes.

These run in the long suite only: each renders thousands of rows into a PDF on its own system.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.reliability import db
from tests.reliability.conftest import Suite
from tests.support.s3 import S3Server, running_s3_server
from tests.support.system import Database, System, User

LEASE = 3
SETTLE_SECONDS = 120.0
JOB_SETTINGS = {
    "DEPOT_EXPORT_JOB_LEASE_SECONDS": str(LEASE),
    "DEPOT_EXPORT_JOB_POLL_SECONDS": "0.5",
    "DEPOT_EXPORT_QUEUE_THRESHOLD_ROWS": "0",
    "DEPOT_EXPORT_SWEEP_INTERVAL_SECONDS": "1",
    "DEPOT_EXPORT_SWEEP_GRACE_SECONDS": "2",
}


@pytest.fixture(autouse=True)
def _long_only(long_run: bool) -> None:
    if not long_run:
        pytest.skip("a long-run suite (make reliability)")


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with running_s3_server(tmp_path / "s3") as server:
        yield server


@pytest.fixture
def queued(own_database: Database, tmp_path: Path, s3: S3Server) -> Iterator[System]:
    settings = {
        **JOB_SETTINGS,
        **s3.credentials(),
        "DEPOT_BLOB_STORE": f"s3://{s3.bucket}",
        "DEPOT_S3_ENDPOINT_URL": s3.endpoint_url,
        "DEPOT_S3_MULTIPART_THRESHOLD_BYTES": str(5 * 1024 * 1024),
    }
    (tmp_path / "system").mkdir()
    with System.running(own_database, tmp_path / "system", **settings) as system:
        yield system


def heavy_data(system: System, user: User, prompts: int = 150) -> None:
    """Enough temporal rows that a PDF takes seconds to render."""
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    text = "A long version text that wraps over several lines of the rendered page. " * 20
    for i in range(prompts):
        versions = [pb.NewVersion(text=f"{i}.{v} {text}", source=f"agent{v % 3}") for v in range(15)]
        stub.CreatePrompt(
            pb.CreatePromptRequest(original_text=f"heavy {i}", versions=versions),
            metadata=user.metadata,
            timeout=30,
        )


def start_job(user: User) -> str:
    reply = user.http.post("/api/v1/exports", json={"source": "datasets/temporal", "format": "pdf"})
    assert reply.status_code == 202, (
        f"a dataset export must be queued (202), got {reply.status_code}: {reply.text}"
    )
    assert reply.headers.get("location"), "202 without a Location"
    return str(reply.json()["id"])


def wait_for_state(system: System, export_id: str, states: set[str], seconds: float) -> tuple[Any, ...]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = db.query(
            system.database.url,
            "SELECT status, lease_owner, attempts, sha256, blob_key FROM exports.exports WHERE id = %s",
            export_id,
        )
        if rows and rows[0][0] in states:
            return rows[0]
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} never reached {states}")


def assert_downloadable(user: User, export_id: str, sha256: str) -> None:
    content = user.http.get(f"/api/v1/exports/{export_id}/content")
    assert content.status_code == 200 and hashlib.sha256(content.content).hexdigest() == sha256


def test_a_job_whose_process_is_killed_is_finished_by_another(queued: System, suite: Suite) -> None:
    user = queued.client()
    heavy_data(queued, user)
    export_id = start_job(user)
    wait_for_state(queued, export_id, {"processing"}, 30)
    process = queued.stack.processes.pop("exports")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    queued.stack.start_process("exports")
    queued.stack.wait_serving("exports", deadline=time.monotonic() + 30)
    status, _, attempts, sha256, _ = wait_for_state(
        queued, export_id, {"completed", "failed"}, SETTLE_SECONDS
    )
    suite.trials(1)
    suite.figure("attempts", attempts)
    assert status == "completed" and attempts >= 2, (status, attempts)
    assert_downloadable(user, export_id, sha256)
    assert len(db.export_rows(queued.database.url, user.id, "datasets/temporal")) == 1


def test_s3_stopped_mid_upload_leaves_a_failed_or_retried_export_and_nothing_dangling(
    queued: System, s3: S3Server, suite: Suite
) -> None:
    user = queued.client()
    heavy_data(queued, user)
    export_id = start_job(user)
    wait_for_state(queued, export_id, {"processing"}, 30)
    s3.stop(kill=True)
    time.sleep(LEASE + 2)
    s3.start()
    status, _, _, sha256, _ = wait_for_state(queued, export_id, {"completed", "failed"}, SETTLE_SECONDS)
    suite.trials(1)
    suite.figure("outcome", status)
    if status == "completed":
        assert_downloadable(user, export_id, sha256)
    client = s3.client()
    deadline = time.monotonic() + 30
    while True:
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=s3.bucket).get("Contents", [])}
        referenced = {
            r[0]
            for r in db.query(
                queued.database.url, "SELECT blob_key FROM exports.exports WHERE blob_key IS NOT NULL"
            )
        }
        dangling = keys - referenced
        uploads = client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
        if (not dangling and not uploads) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not dangling, f"objects no export points at, past the sweeper's grace: {sorted(dangling)[:5]}"
    assert not uploads, f"unfinished multipart uploads: {uploads[:3]}"
    missing = referenced - keys
    assert not missing, f"rows pointing at missing bytes: {sorted(missing)[:5]}"
