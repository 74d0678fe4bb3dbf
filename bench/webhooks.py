"""Webhook benchmark: how long a committed change takes to reach a subscriber's HTTP receiver at
100 changes a second — the prompts outbox, the exports service's consumer queueing the delivery,
a sender signing and POSTing it to a real receiver on 127.0.0.1 (in a process of its own, so the
load this process makes does not slow its answers)."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.figures import record
from bench.prompts import PROMPT_TEXT
from bench.stack import percentile, running_system
from tests.support.system import System
from tests.webhooks.receiver import Receiver

CHANGES = int(os.environ.get("BENCH_WEBHOOK_CHANGES", "500"))


def _receive(port: Any, arrivals: Any, expected: int) -> None:
    with Receiver().running() as receiver:
        receiver.url("/bench")
        port.put(receiver.port)
        deadline = time.monotonic() + 600
        while len(receiver.at("/bench")) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        arrivals.put([(json.loads(r.body)["subject"], r.at) for r in receiver.at("/bench")])


@contextmanager
def receiving(expected: int) -> Iterator[tuple[str, Any]]:
    """The receiver's URL, and a queue that gets [(subject, arrival time)] once `expected` arrived."""
    port: Any = multiprocessing.Queue()
    arrivals: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=_receive, args=(port, arrivals, expected), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{port.get(timeout=30)}/bench", arrivals
    finally:
        process.terminate()
        process.join()


def delivery_latency(system: System, per_second: float = 100.0) -> None:
    """Prompts created at `per_second` over REST; each webhook's arrival minus the moment its create
    returned (the commit is before that, so the figure is a little generous)."""
    user = system.client()
    committed: dict[str, float] = {}
    with receiving(CHANGES) as (url, arrivals):
        reply = user.http.post("/api/v1/webhooks", json={"url": url, "events": ["prompt.created"]})
        assert reply.status_code == 201, reply.text
        start = time.perf_counter()
        for n in range(CHANGES):
            time.sleep(max(0.0, start + n / per_second - time.perf_counter()))
            created = user.http.post("/api/v1/prompts", json={"original_text": PROMPT_TEXT})
            assert created.status_code == 201, created.text
            committed[f"prompts/{created.json()['id']}"] = time.time()
        try:
            arrived = dict(arrivals.get(timeout=120))
        except queue.Empty:
            arrived = {}
    latencies = [max(0.0, arrived[s] - t) for s, t in committed.items() if s in arrived]
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    print(
        f"change committed -> webhook received, {CHANGES} creates at {per_second:.0f}/s:"
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, {len(latencies)}/{len(committed)} arrived"
    )
    record(
        "webhook latency, change committed -> receiver (100 changes/s)",
        value=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        ratio=f"{len(latencies)}/{len(committed)} delivered",
        goal="all delivered, p99 < 1 s",
        met=len(latencies) == len(committed) and p99 < 1000,
    )


def main() -> None:
    with running_system(DEPOT_WEBHOOK_ALLOW_PRIVATE="true") as system:
        delivery_latency(system)


if __name__ == "__main__":
    main()
