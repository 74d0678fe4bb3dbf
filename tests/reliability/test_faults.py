"""Faults on this machine against real processes: PostgreSQL stopped under traffic, and SIGTERM
to a service or the gateway with requests in flight. Each test runs its own system (and, for the
database fault, its own PostgreSQL), so the shared one is never disturbed.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.reliability import db
from tests.reliability.conftest import Suite
from tests.support.system import Database, System, User

# A client gives each request this long; the gateway's own deadline towards a service is shorter.
CLIENT_DEADLINE = 20.0
RPC_TIMEOUT = "12"
OUTAGE_SECONDS = 4.0
RECOVERY_DEADLINE = 40.0
GRACE = 5.0  # DEPOT_GRACE_PERIOD_SECONDS: in-flight calls finish within it
VERSIONS_PER_CREATE = 3


@pytest.fixture
def faulty(own_database: Database, tmp_path: Path) -> Iterator[System]:
    with System.running(
        own_database,
        tmp_path,
        DEPOT_RPC_TIMEOUT_SECONDS=RPC_TIMEOUT,
        DEPOT_GRACE_PERIOD_SECONDS=str(GRACE),
        DEPOT_DRAIN_DELAY_SECONDS="1",  # NOT_SERVING is reported while calls are still taken
    ) as system:
        yield system


@dataclass
class Traffic:
    """Writers and readers in a loop until stopped; every outcome is kept."""

    user: User
    outcomes: list[tuple[str, int | str, float]] = field(default_factory=list)  # (kind, status, seconds)
    acknowledged: list[str] = field(default_factory=list)  # request_ids answered 201
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, writer: bool) -> None:
        with httpx.Client(
            base_url=self.user.system.url, headers=self.user.http.headers, timeout=CLIENT_DEADLINE
        ) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                request_id = uuid.uuid4().hex
                try:
                    if writer:
                        reply = http.post("/api/v1/prompts", json=create_body(request_id))
                    else:
                        reply = http.get("/api/v1/prompts", params={"page_size": 5})
                    status: int | str = reply.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.outcomes.append(("write" if writer else "read", status, time.monotonic() - started))
                if status == 201:
                    self.acknowledged.append(request_id)
                time.sleep(0.02)


def create_body(request_id: str) -> dict[str, object]:
    versions = [{"text": f"v{i} {request_id}", "source": f"agent{i}"} for i in range(VERSIONS_PER_CREATE)]
    return {"request_id": request_id, "original_text": f"fault {request_id}", "versions": versions}


def test_postgres_stopped_under_traffic_gives_503_and_recovers_by_itself(
    faulty: System, suite: Suite
) -> None:
    user = faulty.client()
    traffic = Traffic(user)
    threads = [threading.Thread(target=traffic.run, args=(i % 2 == 0,)) for i in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    faulty.database.postgres.stop()
    grpc_status = _grpc_code_while_down(faulty, user)
    time.sleep(OUTAGE_SECONDS)
    faulty.database.postgres.start()
    recovered_after = _wait_for_a_write(user)
    time.sleep(1.0)
    traffic.stop.set()
    for thread in threads:
        thread.join(timeout=CLIENT_DEADLINE + 5)
    statuses = sorted({str(s) for _, s, _ in traffic.outcomes})
    suite.trials(len(traffic.outcomes))
    suite.figure("statuses", "/".join(statuses))
    suite.figure("recovered after s", round(recovered_after, 1))
    assert grpc_status == grpc.StatusCode.UNAVAILABLE, f"gRPC straight to prompts while down: {grpc_status}"
    odd = [
        (kind, status, round(seconds, 1))
        for kind, status, seconds in traffic.outcomes
        if status not in (200, 201, 503)
    ]
    assert not odd, f"only 2xx and 503 are allowed; got (kind, status, seconds): {odd[:10]}"
    assert "503" in statuses, "the outage was not observed at all"
    slowest = max(seconds for _, _, seconds in traffic.outcomes)
    assert slowest < CLIENT_DEADLINE, f"a request took {slowest:.1f} s, beyond the client's deadline"
    assert not faulty.stack.exited(), f"processes died: {faulty.stack.exited()}"
    _assert_no_partial_rows(faulty, user, traffic.acknowledged)


def _grpc_code_while_down(system: System, user: User) -> grpc.StatusCode:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    try:
        stub.ListPrompts(pb.ListPromptsRequest(), metadata=user.metadata, timeout=CLIENT_DEADLINE)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _wait_for_a_write(user: User) -> float:
    """Seconds until a create succeeds again, with no process restarted."""
    started = time.monotonic()
    while time.monotonic() - started < RECOVERY_DEADLINE:
        try:
            reply = user.http.post(
                "/api/v1/prompts", json=create_body(uuid.uuid4().hex), timeout=CLIENT_DEADLINE
            )
            if reply.status_code == 201:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no successful write within {RECOVERY_DEADLINE} s after PostgreSQL returned")


def _assert_no_partial_rows(system: System, user: User, acknowledged: list[str]) -> None:
    url = system.database.url
    rows = db.query(
        url,
        "SELECT p.request_id, count(v.*) FROM prompts.prompts p LEFT JOIN prompts.versions v ON v.prompt_id = p.id "
        "WHERE p.owner = %s GROUP BY p.request_id",
        user.id,
    )
    partial = [r for r in rows if r[1] != VERSIONS_PER_CREATE]
    assert not partial, f"prompts without all their versions: {partial[:5]}"
    stored = {r[0] for r in rows}
    missing = [r for r in acknowledged if r not in stored]
    assert not missing, f"{len(missing)} acknowledged writes are missing"


def watch_health(system: System, service: str) -> tuple[list[str], threading.Thread]:
    """Statuses a health Watch stream reports, collected on a thread until the stream ends."""
    seen: list[str] = []
    channel = system.channel(service)
    stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)

    def collect() -> None:
        try:
            for reply in stream:
                seen.append(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
        except grpc.RpcError:
            seen.append("ended")

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    return seen, thread


class SlowUpload:
    """A PUT whose body trickles in over `seconds`, so it is in flight at the gateway and the files service."""

    def __init__(self, user: User, name: str, *, seconds: float = 2.0, pieces: int = 20) -> None:
        self.user, self.name, self.seconds, self.pieces = user, name, seconds, pieces
        self.started = threading.Event()
        self.result: int | str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        for _ in range(self.pieces):
            yield b"x" * 1024
            self.started.set()
            time.sleep(self.seconds / self.pieces)

    def _run(self) -> None:
        headers = {**self.user.http.headers, "Content-Type": "application/octet-stream"}
        try:
            reply = httpx.put(
                f"{self.user.system.url}/api/v1/chats/drain/files/{self.name}",
                content=self._body(),
                headers=headers,
                timeout=CLIENT_DEADLINE,
            )
            self.result = reply.status_code
        except httpx.HTTPError as exc:
            self.result = type(exc).__name__


def test_sigterm_to_a_service_reports_not_serving_and_finishes_in_flight_calls(
    faulty: System, suite: Suite
) -> None:
    user = faulty.client()
    seen, watcher = watch_health(faulty, "files")
    uploads = [SlowUpload(user, f"in-flight-{i}.bin") for i in range(3)]
    for upload in uploads:
        assert upload.started.wait(10)
    time.sleep(0.2)
    process = faulty.stack.processes["files"]
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    for upload in uploads:
        upload.thread.join(CLIENT_DEADLINE + 5)
    code = process.wait(GRACE + 15)
    stopped_after = time.monotonic() - started
    watcher.join(5)
    refused = user.http.get("/api/v1/chats/drain/files")
    suite.trials(len(uploads) + 2)
    suite.figure("service drain s", round(stopped_after, 1))
    assert [u.result for u in uploads] == [201] * len(uploads), (
        f"in-flight uploads: {[u.result for u in uploads]}"
    )
    assert seen[:2] == ["SERVING", "NOT_SERVING"], f"health reported {seen}"
    assert code == 0, f"the files service exited with {code}"
    assert stopped_after < GRACE + 10, f"draining took {stopped_after:.1f} s"
    assert refused.status_code == 503, f"a call to the stopped service: {refused.status_code} {refused.text}"
    ready = user.http.get("/readyz")
    # Degraded, not unready: the other services' routes go on (see test_readiness).
    assert ready.status_code == 200 and ready.json()["services"]["files"] == "unavailable", ready.text
    faulty.stack.start_process("files")
    faulty.stack.wait_serving("files", deadline=time.monotonic() + 30)
    # The gateway finds the restarted service by itself, once its channel reconnects (≤ 2 s backoff).
    deadline = time.monotonic() + 10
    while (status := user.http.get("/api/v1/chats/drain/files").status_code) == 503:
        assert time.monotonic() < deadline, "the gateway did not find the restarted files service"
        time.sleep(0.1)
    assert status == 200


def test_sigterm_to_the_gateway_finishes_in_flight_requests_and_refuses_new_ones(
    faulty: System, suite: Suite
) -> None:
    user = faulty.client()
    uploads = [SlowUpload(user, f"gateway-{i}.bin") for i in range(3)]
    for upload in uploads:
        assert upload.started.wait(10)
    time.sleep(0.2)
    process = faulty.stack.processes["gateway"]
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{faulty.url}/readyz", timeout=2)  # a draining gateway takes no new connections
    for upload in uploads:
        upload.thread.join(CLIENT_DEADLINE + 5)
    code = process.wait(GRACE + 15)
    suite.trials(len(uploads) + 1)
    assert [u.result for u in uploads] == [201] * len(uploads), (
        f"in-flight uploads: {[u.result for u in uploads]}"
    )
    assert code == 0, f"the gateway exited with {code}"
    faulty.stack.start_process("gateway")
    faulty.stack.wait_ready(deadline=time.monotonic() + 30)
    listed = user.http.get("/api/v1/chats/drain/files").json()["items"]
    assert sorted(f["filename"] for f in listed) == [f"gateway-{i}.bin" for i in range(3)]
