"""Events benchmarks: what the outbox costs a create (its triggers off and on, alternated in one
run), and how long a committed change takes to reach a WatchEvents watcher at 100 changes a second."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import psycopg

from bench.figures import record
from bench.prompts import PROMPT_TEXT, VERSION_TEXT, Result, _cpu_seconds, _drive
from bench.stack import percentile, running_system
from depot.events.v1 import events_pb2, events_pb2_grpc
from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.support.system import System

# The prompts triggers that write events (migration prompts 0006_events).
EVENT_TRIGGERS = (
    ("prompts", "events_prompt_created"),
    ("versions", "events_versions_appended"),
    ("prompts", "events_best_changed"),
    ("prompts", "events_prompt_deleted"),
    ("label_moves", "events_label_moved"),
    ("feedback", "events_feedback_created"),
)
ROUNDS = int(os.environ.get("BENCH_EVENTS_ROUNDS", "3"))
LATENCY_CHANGES = int(os.environ.get("BENCH_EVENTS_CHANGES", "500"))


def _event_triggers(conn: psycopg.Connection[Any], *, enabled: bool) -> None:
    for table, trigger in EVENT_TRIGGERS:
        conn.execute(f"ALTER TABLE prompts.{table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {trigger}")


def outbox_write_cost(system: System, clients: int = 8) -> None:
    """gRPC creates (one unscored version) with the event triggers off and on, alternated; CPU is
    the stack's and PostgreSQL's per create, the relay placing the events included."""
    user = system.client()
    request = pb.CreatePromptRequest(
        original_text=PROMPT_TEXT, versions=[pb.NewVersion(text=VERSION_TEXT, source="syntax")]
    )

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], object]]:
        options = [("grpc.use_local_subchannel_pool", 1)]
        with grpc.insecure_channel(system.stack.grpc_address("prompts"), options=options) as channel:
            stub = prompts_pb2_grpc.PromptsServiceStub(channel)
            yield lambda: stub.CreatePrompt(request, metadata=user.metadata, timeout=10)

    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        try:
            for enabled in (False, True) * ROUNDS:
                _event_triggers(conn, enabled=enabled)
                before = _cpu_seconds(system)
                result: Result = _drive(clients, connect)
                cpu[enabled].append((_cpu_seconds(system) - before) / max(result.count, 1))
                rates[enabled].append(result.rate)
        finally:
            _event_triggers(conn, enabled=True)
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    cpu_off, cpu_on = statistics.median(cpu[False]) * 1e6, statistics.median(cpu[True]) * 1e6
    print(
        f"outbox cost on gRPC creates ({clients} clients, triggers off/on alternated, medians of {ROUNDS}):\n"
        f"  off {off:7,.0f} req/s {cpu_off:5,.0f} µs CPU  on {on:7,.0f} req/s {cpu_on:5,.0f} µs CPU"
        f"  = {on / off - 1:+.1%} req/s, {cpu_on / cpu_off - 1:+.1%} CPU"
    )
    # As for the effectiveness counters (bench/prompts.py): on two shared cores a 4 s rate swings by
    # 10 % from run to run, so the CPU each create costs the machine decides.
    record(
        "outbox cost on create-prompt throughput",
        value=f"{cpu_on / cpu_off - 1:+.1%} CPU per create",
        ratio=f"{on / off - 1:+.1%} req/s",
        goal="< +10 % (throughput drop < 10 %)",
        met=cpu_on / cpu_off - 1 < 0.10,
    )


def watch_latency(system: System, per_second: float = 100.0) -> None:
    """Prompts created at `per_second` over REST; each event's arrival at a live watcher minus the
    moment its create returned (the commit is before that, so the figure is a little generous)."""
    user = system.client()
    committed: dict[str, float] = {}
    arrived: dict[str, float] = {}
    channel = grpc.insecure_channel(system.stack.grpc_address("prompts"))
    call = events_pb2_grpc.EventsServiceStub(channel).WatchEvents(
        events_pb2.WatchEventsRequest(types=["prompt.created"]), metadata=user.metadata, timeout=600
    )

    def follow() -> None:
        with contextlib.suppress(grpc.RpcError):
            for response in call:
                arrived[response.event.subject] = time.perf_counter()
                if len(arrived) == LATENCY_CHANGES:
                    return

    follower = threading.Thread(target=follow)
    follower.start()
    start = time.perf_counter()
    for n in range(LATENCY_CHANGES):
        time.sleep(max(0.0, start + n / per_second - time.perf_counter()))
        reply = user.http.post("/api/v1/prompts", json={"original_text": PROMPT_TEXT})
        committed[f"prompts/{reply.json()['id']}"] = time.perf_counter()
    follower.join(60)
    call.cancel()
    channel.close()
    latencies = [max(0.0, arrived[s] - t) for s, t in committed.items() if s in arrived]
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    print(
        f"change committed -> WatchEvents received, {LATENCY_CHANGES} creates at {per_second:.0f}/s:"
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, {len(latencies)}/{len(committed)} arrived"
    )
    record(
        "event latency, change committed -> WatchEvents (100 changes/s)",
        value=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        ratio=f"{len(latencies)}/{len(committed)} delivered",
        goal="all delivered, p99 < 1 s (the poll)",
        met=len(latencies) == len(committed) and p99 < 1000,
    )


def main() -> None:
    with running_system() as system:
        outbox_write_cost(system)
        watch_latency(system)


if __name__ == "__main__":
    main()
