"""Downloads benchmark: the fixed toll of a download. A 1 KiB cached export and a 1 KiB chat file
fetched through the gateway, one request after another on one keep-alive connection, alternated in
batches (the machine may be shared): the file is the limit, a stored row read in one statement.
"""

from __future__ import annotations

import http.client
import os
import time
from urllib.parse import urlsplit

from bench.figures import record
from bench.stack import percentile, running_system
from tests.support.system import System, User

KIB = 1024
REQUESTS = int(os.environ.get("BENCH_DOWNLOAD_REQUESTS", "1500"))
BATCH = 50


class Fetcher:
    """GETs on one keep-alive connection, the body read whole (a lean client: http.client)."""

    def __init__(self, system: System, user: User) -> None:
        address = urlsplit(system.url)
        self.connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port)
        self.headers = {"Authorization": f"Bearer {user.token}"}

    def seconds(self, path: str) -> tuple[float, int]:
        started = time.perf_counter()
        self.connection.request("GET", path, headers=self.headers)
        reply = self.connection.getresponse()
        body = reply.read()
        elapsed = time.perf_counter() - started
        assert reply.status == 200, body
        return elapsed, len(body)


def small_export(user: User) -> str:
    """A stored JSON export of a prompt session of about 1 KiB; returns its content path."""
    prompt = user.create_prompt(
        original_text="Summarise the quarterly report " + "in plain words " * 20,
        versions=[{"text": "Summarise the report below in five bullet points " * 6, "source": "syntax"}],
    )
    reply = user.http.post("/api/v1/exports", json={"source": f"prompts/{prompt['id']}", "format": "json"})
    assert reply.status_code == 201, reply.text
    return f"/api/v1/exports/{reply.json()['id']}/content"


def small_file(user: User) -> str:
    reply = user.http.put(
        "/api/v1/chats/bench/files/notes.txt",
        content=b"n" * KIB,
        headers={"Content-Type": "text/plain"},
    )
    assert reply.status_code in (200, 201), reply.text
    return "/api/v1/chats/bench/files/notes.txt"


def toll(system: System) -> None:
    user = system.client()
    paths = {"export": small_export(user), "file": small_file(user)}
    fetcher = Fetcher(system, user)
    sizes = {name: fetcher.seconds(path)[1] for name, path in paths.items()}  # and warm up
    for _ in range(BATCH):
        for path in paths.values():
            fetcher.seconds(path)
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(REQUESTS // BATCH):
        for name, path in paths.items():
            latencies[name].extend(fetcher.seconds(path)[0] for _ in range(BATCH))
    fetcher.connection.close()
    p50 = {name: percentile(values, 0.50) * 1000 for name, values in latencies.items()}
    p99 = {name: percentile(values, 0.99) * 1000 for name, values in latencies.items()}
    print(f"1 KiB downloads through the gateway, {REQUESTS:,} each, one connection:")
    for name in paths:
        print(f"  {name:<7} {sizes[name]:5,} bytes   p50 {p50[name]:6.2f} ms   p99 {p99[name]:6.2f} ms")
    ratio50, ratio99 = p50["export"] / p50["file"], p99["export"] / p99["file"]
    record(
        "cached 1 KiB export download vs a 1 KiB chat file, through the gateway",
        value=f"p50 {p50['export']:.2f} ms, p99 {p99['export']:.2f} ms",
        ratio=f"{ratio50:.2f}x the file's p50 ({p50['file']:.2f} ms), {ratio99:.2f}x its p99",
        goal="<= 1.5x",
        met=ratio50 <= 1.5 and ratio99 <= 1.5,
    )


def main() -> None:
    with running_system() as system:
        toll(system)


if __name__ == "__main__":
    main()
