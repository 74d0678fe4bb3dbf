"""Slow clients: many slow uploads and slow readers of a streamed download must not hurt a normal
client, must not grow the servers' memory without bound, and stalled connections must be closed at
the gateway's idle timeout (DEPOT_HTTP_IDLE_TIMEOUT_SECONDS; 30 s by default, IDLE here).

Slowloris: sockets that send part of a request's line and headers, or nothing at all, are closed at
the header deadline (DEPOT_HTTP_HEADER_TIMEOUT_SECONDS; 10 s by default, HEADER here), with 408 when
a request had begun; a kept-alive connection that goes quiet is closed at DEPOT_HTTP_KEEP_ALIVE_SECONDS;
connections over DEPOT_HTTP_MAX_CONNECTIONS are answered 503 at once. CI opens 200 half-header and
20 idle sockets, `--long` 2,000 and 200.

CI runs 40 slow uploads and 5 slow readers; `--long` runs 200 and 20. The long run's latency bound
is the issue's 2× of the normal client's p99 plus 25 ms, because a ~10 ms p99 on a shared 2-core
machine moves by that much from scheduling noise alone; CI's is a generous 4× plus 100 ms, which
catches a blocked service (seconds) without failing on a neighbour's build.
"""

from __future__ import annotations

import contextlib
import math
import selectors
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.reliability.conftest import Suite
from tests.support.system import System, User, free_port

IDLE = 4.0
HEADER = 2.0
KEEP_ALIVE = 5.0  # uvicorn's default: the other tests here keep the conditions they were written for
CLOSE_SLACK = {True: 15.0, False: 5.0}  # long run → seconds past a deadline a close may take
MAX_CONNECTIONS = 4000  # above what any test here opens, except the one about the cap
FILE_BYTES = 8 * 1024 * 1024
TRICKLE_SECONDS = 1.0  # slow uploaders send a byte this often, well inside IDLE
READ_BYTES, READ_EVERY = 256 * 1024, 0.5  # slow readers: 512 KiB/s
READER_BUFFER = 64 * 1024
BOUNDS = {True: (2.0, 0.025), False: (4.0, 0.1)}  # long run → (factor, noise seconds)
MEMORY_LIMIT = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    directory = Path(tmp_path_factory.mktemp("slow"))
    with System.on_own_database(
        directory,
        DEPOT_HTTP_IDLE_TIMEOUT_SECONDS=str(IDLE),
        DEPOT_HTTP_HEADER_TIMEOUT_SECONDS=str(HEADER),
        DEPOT_HTTP_KEEP_ALIVE_SECONDS=str(KEEP_ALIVE),
        DEPOT_HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    ) as system:
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


def _connect(port: int, data: bytes = b"") -> tuple[socket.socket, float]:
    sock = socket.create_connection(("127.0.0.1", port))
    if data:
        sock.sendall(data)
    return sock, time.monotonic()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


HALF_HEADER = b"GET /api/v1/prompts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _close_times(socks: list[tuple[socket.socket, float]], limit: float) -> list[tuple[float, bytes]]:
    """For each socket, as the server closes it: seconds since it was opened (inf when still open
    `limit` seconds after the last opening) and the first bytes the server sent on it."""
    selector = selectors.DefaultSelector()
    received = [b""] * len(socks)
    times = [math.inf] * len(socks)
    for i, (sock, _) in enumerate(socks):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
    deadline = max(opened for _, opened in socks) + limit
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.2):
            i = key.data
            sock, opened = socks[i]
            try:
                piece = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                piece = b""  # a reset closes too
            if piece:
                received[i] += piece
                continue
            times[i] = time.monotonic() - opened
            selector.unregister(sock)
    selector.close()
    return [(seconds, first[:200]) for seconds, first in zip(times, received, strict=True)]


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class HeaderTrickler:
    """Sends one more byte of a header every half second on each socket, until the server closes it."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.socks, self.stop = socks, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            for sock in self.socks:
                with contextlib.suppress(OSError):
                    sock.send(b"a")


def test_slowloris_sockets_are_closed_at_the_header_deadline(
    patient: System, long_run: bool, suite: Suite
) -> None:
    user = patient.client()
    prompt = user.create_prompt()
    port = _port(patient.url)
    gateway = psutil.Process(patient.stack.processes["gateway"].pid)
    baseline = gateway.num_fds()
    partial_count, idle_count = (2000, 200) if long_run else (200, 20)
    partial = [_connect(port, HALF_HEADER) for _ in range(partial_count)]
    idle = [_connect(port) for _ in range(idle_count)]
    trickling = [_connect(port, HALF_HEADER) for _ in range(5)]
    trickler = HeaderTrickler([sock for sock, _ in trickling])
    try:
        attack = partial_count + idle_count
        held = _wait_for(lambda: gateway.num_fds() >= baseline + 0.9 * attack, HEADER)
        peak, peak_rss = gateway.num_fds(), gateway.memory_info().rss
        served = user.http.get(f"/api/v1/prompts/{prompt['id']}")  # a normal client meanwhile
        slack = CLOSE_SLACK[long_run]
        begun = partial + trickling
        closes = list(
            zip(
                _close_times(begun + idle, HEADER + slack),
                [True] * len(begun) + [False] * len(idle),
                strict=True,
            )
        )
    finally:
        trickler.stop.set()
        for sock, _ in partial + idle + trickling:
            sock.close()
    released = _wait_for(lambda: gateway.num_fds() <= baseline + 5, slack)
    suite.trials(partial_count + idle_count + len(trickling))
    suite.figure("header deadline s", HEADER)
    suite.figure("gateway fds base/peak/after", f"{baseline}/{peak}/{gateway.num_fds()}")
    suite.figure("gateway RSS MiB under slowloris", round(peak_rss / 2**20))
    assert held, f"the gateway held {peak} descriptors, {baseline} before an attack of {attack} sockets"
    assert served.status_code == 200, served.text
    late = [round(seconds, 1) for (seconds, _), _ in closes if not HEADER - 0.5 <= seconds <= HEADER + slack]
    assert not late, f"{len(late)} sockets were closed outside {HEADER} s + {slack} s: {late[:20]}"
    wrong = [first for (_, first), expected in closes if (b"HTTP/1.1 408" if expected else b"") != first[:12]]
    assert not wrong, f"expected 408 for a begun request and nothing for an idle socket, got {wrong[:5]}"
    assert released, f"the gateway still holds {gateway.num_fds()} descriptors, {baseline} before the attack"


def test_a_kept_alive_connection_is_closed_when_idle_and_when_its_next_headers_stall(patient: System) -> None:
    port = _port(patient.url)
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    quiet, _ = _connect(port, request)
    stalled, _ = _connect(port, request)
    try:
        for sock in (quiet, stalled):
            assert _response(sock).startswith(b"HTTP/1.1 200"), "the first request was not answered"
        answered = time.monotonic()
        stalled.sendall(HALF_HEADER)
        quiet_seconds, quiet_first = _closed_after(quiet, answered, KEEP_ALIVE + 10)
        stalled_seconds, stalled_first = _closed_after(stalled, answered, HEADER + 10)
    finally:
        quiet.close()
        stalled.close()
    assert quiet_first == b"" and KEEP_ALIVE - 0.5 <= quiet_seconds <= KEEP_ALIVE + 5, (
        quiet_seconds,
        quiet_first,
    )
    assert stalled_first.startswith(b"HTTP/1.1 408"), stalled_first
    assert HEADER - 0.5 <= stalled_seconds <= HEADER + 5, f"closed after {stalled_seconds:.1f} s"


def _response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length, read from the socket."""
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _content_length(data):
        piece = sock.recv(65536)
        assert piece, f"the connection closed after {data[:200]!r}"
        data += piece
    return data


def _content_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_a_body_trickled_after_an_early_answer_is_cut_at_the_header_deadline(patient: System) -> None:
    """A body the gateway refused without reading (413 by its declared length) is read and dropped
    for HEADER seconds after the answer, not for as long as the client keeps sending."""
    head = b"POST /api/v1/prompts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\n\r\n"
    sock, _ = _connect(_port(patient.url), head)
    trickler = HeaderTrickler([sock])
    try:
        answer = _response(sock)
        answered = time.monotonic()
        seconds, _ = _closed_after(sock, answered, HEADER + 10)
    finally:
        trickler.stop.set()
        sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert seconds <= HEADER + 5, f"the connection was closed {seconds:.1f} s after the answer"


def test_connections_over_the_cap_are_answered_503_at_once(patient: System) -> None:
    """A second gateway in front of the same services, capped at a few connections, which idle
    sockets hold (its header deadline is long enough that they stay for the test)."""
    cap, port = 20, free_port()
    key = "gateway-capped"
    settings = {"PORT": port, "MAX_CONNECTIONS": cap, "HEADER_TIMEOUT_SECONDS": 30}
    patient.stack.start_process(
        "gateway", key=key, env={f"DEPOT_HTTP_{k}": str(v) for k, v in settings.items()}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: _answers(url), 30), "the capped gateway did not start"
        holders = [_connect(port) for _ in range(cap)]
        try:
            time.sleep(0.5)  # every holder accepted
            over, opened = _connect(port)
            seconds, first = _closed_after(over, opened, 5)
            over.close()
        finally:
            for sock, _ in holders:
                sock.close()
        assert first.startswith(b"HTTP/1.1 503"), first
        assert seconds < 5, f"an over-the-cap connection was held {seconds:.1f} s"
        assert _wait_for(lambda: _answers(url), 10), "the gateway did not serve again once under its cap"
    finally:
        patient.stack.stop_process(key)


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    return False
