"""Slow clients: many slow uploads and slow readers of a streamed download must not hurt a normal
client, must not grow the servers' memory without bound, and stalled connections must be closed at
the gateway's idle timeout (DEPOT_HTTP_IDLE_TIMEOUT_SECONDS; 30 s by default, IDLE here).

CI runs 40 slow uploads and 5 slow readers; `--long` runs 200 and 20. The long run's latency bound
is the issue's 2× of the normal client's p99 plus 25 ms, because a ~10 ms p99 on a shared 2-core
machine moves by that much from scheduling noise alone; CI's is a generous 4× plus 100 ms, which
catches a blocked service (seconds) without failing on a neighbour's build.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.reliability.conftest import Suite
from tests.support.system import System, User

IDLE = 4.0
FILE_BYTES = 8 * 1024 * 1024
TRICKLE_SECONDS = 1.0  # slow uploaders send a byte this often, well inside IDLE
READ_BYTES, READ_EVERY = 256 * 1024, 0.5  # slow readers: 512 KiB/s
READER_BUFFER = 64 * 1024
BOUNDS = {True: (2.0, 0.025), False: (4.0, 0.1)}  # long run → (factor, noise seconds)
MEMORY_LIMIT = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("slow"))
    with System.on_own_database(directory, DEPOT_HTTP_IDLE_TIMEOUT_SECONDS=str(IDLE)) as system:
        yield system


def open_request(user: User, head: str, *, receive_buffer: int | None = None) -> socket.socket:
    port = int(user.system.url.rsplit(":", 1)[1])
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"{head}Host: 127.0.0.1\r\nAuthorization: Bearer {user.token}\r\n".encode())
    return sock


def slow_upload(user: User, i: int) -> socket.socket:
    sock = open_request(user, f"PUT /api/v1/chats/slow/files/slow-{i}.bin HTTP/1.1\r\n")
    sock.sendall(f"Content-Type: application/octet-stream\r\nContent-Length: {1024 * 1024}\r\n\r\n".encode())
    sock.sendall(b"x" * 16)
    return sock


def slow_reader(user: User, *, receive_buffer: int | None = None) -> socket.socket:
    sock = open_request(
        user, "GET /api/v1/chats/slow/files/big.bin HTTP/1.1\r\n", receive_buffer=receive_buffer
    )
    sock.sendall(b"\r\n")
    return sock


def latencies(user: User, prompt_id: str, count: int = 80) -> list[float]:
    seen = []
    for i in range(count):
        path = f"/api/v1/prompts/{prompt_id}" if i % 2 else "/api/v1/chats/slow/files"
        started = time.perf_counter()
        reply = user.http.get(path)
        seen.append(time.perf_counter() - started)
        assert reply.status_code == 200, reply.text
    return seen


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def rss(system: System) -> int:
    return sum(
        psutil.Process(system.stack.processes[name].pid).memory_info().rss for name in ("gateway", "files")
    )


class Trickler:
    """Keeps slow uploads alive and slow readers reading, on one thread."""

    def __init__(self, uploads: list[socket.socket], readers: list[socket.socket]) -> None:
        self.uploads, self.readers = uploads, readers
        self.read = [0] * len(readers)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        last_trickle = 0.0
        for sock in self.readers:
            sock.settimeout(0.01)
        while not self.stop.wait(READ_EVERY):
            if time.monotonic() - last_trickle >= TRICKLE_SECONDS:
                for sock in self.uploads:
                    with contextlib.suppress(OSError):
                        sock.send(b"y")
                last_trickle = time.monotonic()
            for i, sock in enumerate(self.readers):
                with contextlib.suppress(OSError):
                    self.read[i] += len(sock.recv(READ_BYTES))


def test_slow_clients_do_not_hurt_a_normal_client(patient: System, long_run: bool, suite: Suite) -> None:
    user = patient.client()
    prompt = user.create_prompt()
    put = user.http.put("/api/v1/chats/slow/files/big.bin", content=b"z" * FILE_BYTES)
    assert put.status_code == 201, put.text
    latencies(user, prompt["id"], 20)  # warm up
    baseline = p99(latencies(user, prompt["id"]))
    memory_before = rss(patient)
    upload_count, reader_count = (200, 20) if long_run else (40, 5)
    uploads = [slow_upload(user, i) for i in range(upload_count)]
    # A slow reader's socket takes 64 KiB at a time, as over a real network: with loopback's
    # autotuned buffers it would first take megabytes at full speed, a burst of fast clients.
    readers = [slow_reader(user, receive_buffer=READER_BUFFER) for _ in range(reader_count)]
    trickler = Trickler(uploads, readers)
    try:
        time.sleep(2 * TRICKLE_SECONDS)
        loaded = p99(latencies(user, prompt["id"]))
        memory_growth = rss(patient) - memory_before
        alive = sum(1 for sock in uploads if _open(sock))
    finally:
        trickler.stop.set()
        trickler.thread.join(5)
        for sock in uploads + readers:
            sock.close()
    suite.trials(upload_count + reader_count)
    suite.figure("p99 ms normal/slow-loaded", f"{baseline * 1000:.1f}/{loaded * 1000:.1f}")
    suite.figure("memory growth MiB", round(memory_growth / 2**20, 1))
    assert alive == upload_count, f"only {alive} of {upload_count} slow (not stalled) uploads were kept"
    assert sum(trickler.read) > 0, "the slow readers received nothing"
    factor, noise = BOUNDS[long_run]
    assert loaded < factor * baseline + noise, (
        f"p99 went from {baseline * 1000:.1f} to {loaded * 1000:.1f} ms"
    )
    assert memory_growth < MEMORY_LIMIT, f"gateway and files grew by {memory_growth / 2**20:.0f} MiB"
    assert not patient.stack.exited()


def _open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def _closed_after(sock: socket.socket, started: float, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closed the connection (reading whatever it sent), and the first bytes."""
    sock.settimeout(limit)
    received = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            return time.monotonic() - started, received[:200]
        received += piece


def test_stalled_connections_are_closed_at_the_idle_timeout(patient: System, suite: Suite) -> None:
    user = patient.client()
    put = user.http.put("/api/v1/chats/slow/files/big.bin", content=b"z" * FILE_BYTES)
    assert put.status_code == 201, put.text
    started = time.monotonic()
    uploads = [slow_upload(user, 1000 + i) for i in range(3)]
    readers = [slow_reader(user, receive_buffer=4096) for _ in range(3)]
    time.sleep(IDLE + 3)  # the readers read nothing at all until now
    try:
        for sock in uploads:
            seconds, first = _closed_after(sock, started, IDLE + 15)
            assert first.startswith(b"HTTP/1.1 408"), first
            assert IDLE - 0.5 <= seconds <= IDLE + 15, f"a stalled upload was closed after {seconds:.1f} s"
        for sock in readers:
            seconds, _ = _closed_after(sock, started, IDLE + 15)
            assert seconds <= 2 * IDLE + 15, f"a stalled reader was closed after {seconds:.1f} s"
    finally:
        for sock in uploads + readers:
            sock.close()
    suite.trials(len(uploads) + len(readers))
    suite.figure("idle timeout s", IDLE)
    listed = [f["filename"] for f in user.http.get("/api/v1/chats/slow/files").json()["items"]]
    assert not [name for name in listed if name.startswith("slow-10")], (
        f"stalled uploads were stored: {listed}"
    )
