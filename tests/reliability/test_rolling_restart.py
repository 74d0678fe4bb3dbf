"""Rolling restart with no dropped call: two processes of each gRPC service, clients sending mixed
traffic through the gateway (creates with and without a request_id, reads, uploads, downloads,
exports) while every replica of every service is restarted one at a time by PID: SIGTERM (the
replica says NOT_SERVING, clients move their new calls to the other replica, running calls
finish), start, SERVING. No answer outside 2xx/304/429, every acknowledged write is there
afterwards exactly once, every download is byte-exact, and a download running on a stopped
replica finishes. The short form (`make test`) runs 6 clients and restarts one replica of each
service, with a 5 s grace and an 8 MiB download across the stop; `--long` (`make reliability`) runs
50 clients and restarts all six processes, with a 10 s grace and a 20 MiB download."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest

from depot.files.v1 import files_pb2, files_pb2_grpc
from tests.reliability.conftest import Suite
from tests.support.system import System, User

# A file read slowly across its files replica's stop, within the grace period: 20 MiB (about 5 s)
# within 10 s in the long run, 8 MiB (about 2 s) within 5 s in the short form. Every stop waits
# out the grace while event streams are open, so the short form's is the shorter.
GRACE_SECONDS = {True: 10.0, False: 5.0}  # long run → seconds
BIG_FILE = {True: 20 * 1024 * 1024, False: 8 * 1024 * 1024}  # long run → bytes
ACCEPTED = {200, 201, 204, 304, 429}


@pytest.fixture
def rolling(tmp_path: Path, long_run: bool) -> Iterator[System]:
    with System.on_own_database(
        tmp_path,
        replicas=2,
        DEPOT_GRACE_PERIOD_SECONDS=str(GRACE_SECONDS[long_run]),
        DEPOT_DRAIN_DELAY_SECONDS="1",  # clients move new calls away while the replica still takes them
        DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE="1000",
    ) as system:
        yield system


@dataclass
class Client:
    """One user sending mixed traffic, remembering what the system acknowledged."""

    user: User
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    prompts: dict[str, str] = field(default_factory=dict)  # id → request_id ("" for none)
    files: dict[str, str] = field(default_factory=dict)  # filename → sha256
    downloads: int = 0
    exports: int = 0

    def check(self, reply: httpx.Response, what: str) -> bool:
        self.statuses[reply.status_code] += 1
        if reply.status_code not in ACCEPTED:
            self.failures.append(f"{what}: {reply.status_code} {reply.text[:200]}")
        return 200 <= reply.status_code < 300

    def step(self, n: int) -> None:
        http = self.user.http
        kind = n % 6
        if kind in (0, 1):
            request_id = uuid.uuid4().hex if kind == 0 else ""
            body = {"original_text": f"rolling {n}"} | ({"request_id": request_id} if request_id else {})
            reply = http.post("/api/v1/prompts", json=body)
            if self.check(reply, "create prompt"):
                self.prompts[reply.json()["id"]] = request_id
        elif kind == 2 and self.prompts:
            prompt_id = next(reversed(self.prompts))
            reply = http.get(f"/api/v1/prompts/{prompt_id}")
            if self.check(reply, "get prompt") and reply.json()["id"] != prompt_id:
                self.failures.append(f"get prompt {prompt_id}: another prompt")
        elif kind == 3:
            data = os.urandom(16 * 1024 + n % 4096)
            name = f"f{n}.bin"
            reply = http.put(f"/api/v1/chats/rolling/files/{name}", content=data)
            if self.check(reply, "upload"):
                self.files[name] = hashlib.sha256(data).hexdigest()
        elif kind == 4 and self.files:
            name = next(reversed(self.files))
            reply = http.get(f"/api/v1/chats/rolling/files/{name}")
            if self.check(reply, "download"):
                self.downloads += 1
                if hashlib.sha256(reply.content).hexdigest() != self.files[name]:
                    self.failures.append(f"download {name}: other bytes")
        elif kind == 5 and self.prompts:
            source = f"prompts/{next(iter(self.prompts))}"
            reply = http.post("/api/v1/exports", json={"source": source, "format": "json"})
            if self.check(reply, "export") and reply.status_code != 429:
                content = http.get(f"/api/v1/exports/{reply.json()['id']}/content")
                if self.check(content, "export content"):
                    self.exports += 1

    def run(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            try:
                self.step(n)
            except httpx.HTTPError as exc:  # a connection the gateway dropped is a dropped call too
                self.failures.append(f"step {n}: {exc!r}")
            n += 1

    def verify(self) -> None:
        """Every acknowledged prompt and file is there once, and nothing unacknowledged is."""
        http = self.user.http
        found: list[dict[str, str]] = []
        token = ""
        while True:
            page = http.get("/api/v1/prompts", params={"page_size": 1000, "page_token": token}).json()
            found += page["items"]
            if not (token := page["next_page_token"]):
                break
        ids = Counter(p["id"] for p in found)
        assert set(ids) == set(self.prompts) and max(ids.values(), default=1) == 1, self.user.id
        keys = Counter(p["request_id"] for p in found if p.get("request_id"))
        assert max(keys.values(), default=1) == 1
        listed = http.get("/api/v1/chats/rolling/files", params={"page_size": 1000}).json()
        assert sorted(f["filename"] for f in listed["items"]) == sorted(self.files)
        for name, digest in self.files.items():
            assert (
                hashlib.sha256(http.get(f"/api/v1/chats/rolling/files/{name}").content).hexdigest() == digest
            )


def download_across_a_stop(system: System, user: User, key: str, expected: bytes) -> bytes:
    """Opens a download on the files replica `key` itself, then restarts that replica while reading
    the rest slowly (about 4 MiB/s, a small receive window so the bytes cannot all be sent ahead):
    the stream must end complete within the grace. Returns what arrived."""
    port = system.stack.replica_ports["files"][key]
    options = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 64 * 1024)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        stream = files_pb2_grpc.FilesServiceStub(channel).DownloadFile(
            files_pb2.DownloadFileRequest(chat_id="big", filename="big.bin"),
            metadata=user.metadata,
            timeout=max(GRACE_SECONDS.values()) + 60,
        )
        parts = [next(stream), next(stream)]  # the header and the first bytes: in flight now
        with ThreadPoolExecutor(1) as restarter:
            restarted = restarter.submit(system.stack.restart_replica, key)
            for part in stream:
                parts.append(part)
                time.sleep(len(part.chunk) / (4 * 1024 * 1024))
            restarted.result()
    assert parts[0].header.file.size_bytes == len(expected)
    return b"".join(p.chunk for p in parts[1:])


def test_restarting_every_replica_under_load_drops_no_call(
    rolling: System, suite: Suite, long_run: bool
) -> None:
    stack = rolling.stack
    clients = [Client(rolling.client()) for _ in range(50 if long_run else 6)]
    big = os.urandom(BIG_FILE[long_run])
    owner = clients[0].user
    assert owner.http.put("/api/v1/chats/big/files/big.bin", content=big).status_code == 201
    stop = threading.Event()
    began = time.monotonic()
    with ThreadPoolExecutor(len(clients)) as pool:
        runs = [pool.submit(client.run, stop) for client in clients]
        try:
            time.sleep(2)  # traffic on every replica before the first stop
            restart_seconds: list[float] = []
            for service in ("prompts", "files", "exports"):
                # The short form restarts one replica of each service, the long one every replica.
                keys = list(stack.replica_ports[service])[: None if long_run else 1]
                for key in keys:
                    old = stack.processes[key].pid
                    restart_began = time.monotonic()
                    if service == "files" and key == keys[0]:
                        assert download_across_a_stop(rolling, owner, key, big) == big
                    else:
                        stack.restart_replica(key)
                    restart_seconds.append(time.monotonic() - restart_began)
                    assert stack.processes[key].pid != old
                    time.sleep(0.5)  # traffic reaches the restarted replica again
        finally:
            stop.set()
            for run in runs:
                run.result()
    seconds = time.monotonic() - began
    failures = [f for client in clients for f in client.failures]
    statuses: Counter[int] = sum((client.statuses for client in clients), Counter())
    assert not failures, failures[:20]
    for client in clients:
        client.verify()
    calls = sum(statuses.values())
    suite.trials(calls)
    suite.figure("clients", len(clients))
    suite.figure("replicas_restarted", len(restart_seconds))
    suite.figure("restart_s_max", f"{max(restart_seconds):.1f}")
    suite.figure("rolling_s", f"{seconds:.0f}")
    suite.figure("calls", calls)
    suite.figure("calls_per_s", f"{calls / seconds:.0f}")
    suite.figure("outside_2xx", sum(n for s, n in statuses.items() if s not in ACCEPTED))
    suite.figure("429s", statuses[429])
    suite.figure("downloads_checked", sum(c.downloads for c in clients))
    suite.figure("exports", sum(c.exports for c in clients))
