"""A real HTTP receiver on 127.0.0.1 for webhook deliveries: each path behaves as the test sets it
(answer a status, fail n times then succeed, redirect, answer slowly with a huge body) and every
request is recorded with its headers and body."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived


@dataclass
class Behaviour:
    statuses: list[int] = field(default_factory=list)  # answered in turn; then `then`
    then: int = 204
    location: str | None = None  # a redirect's target
    slow_huge: bool = False  # 200 with an endless body trickling out
    delay: float = 0.0  # seconds before answering


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str, behaviour: Behaviour | None = None) -> str:
        self.behaviours[path] = behaviour or Behaviour()
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, *, timeout: float = 60) -> list[Received]:
        """The first `count` requests to `path`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len([r for r in self.received if r.path == path]) < count:
                left = deadline - time.monotonic()
                got = [r.path for r in self.received]
                assert left > 0, f"expected {count} requests to {path}, got {got}"
                self._arrived.wait(left)
            return [r for r in self.received if r.path == path][:count]

    def _record(self, received: Received) -> Behaviour:
        with self._arrived:
            self.received.append(received)
            self._arrived.notify_all()
            return self.behaviours.get(received.path, Behaviour(then=404))

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                behaviour = receiver._record(Received(path, headers, body, time.time()))
                time.sleep(behaviour.delay)
                if behaviour.slow_huge:
                    self._trickle()
                    return
                status = behaviour.statuses.pop(0) if behaviour.statuses else behaviour.then
                self.send_response(status)
                if behaviour.location:
                    self.send_header("Location", behaviour.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _trickle(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 30))
                self.end_headers()
                try:
                    for _ in range(600):
                        self.wfile.write(b"x" * 65536)
                        time.sleep(0.05)
                except OSError:
                    pass  # the sender stopped reading: as it should

        return Handler

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
