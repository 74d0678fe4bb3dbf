"""Events benchmarks: what the outbox costs a create, and how long a committed change takes to
reach a WatchEvents watcher at 100 changes a second.

The cost is measured where it is spent, as the write cost of the effectiveness counters is
(bench/write_cost.py), because whole-stack rates on two shared cores swing by more than the figure:
- the trigger: a create's inserts on one connection, event triggers off and on, alternated round
  by round, in that backend's CPU;
- the relay: moving committed events from the inbox to the stream (`place_events`) in batches of
  the size the relay meets at 200 creates a second and its 50 ms poll (10), in backend CPU plus
  the round trip's client CPU;
- weighed against the whole stack's CPU per gRPC create (the service and PostgreSQL's backends).
Once the cores are saturated a create's CPU decides the throughput, so that share is the
throughput the outbox costs. The whole-stack rates with the triggers off and on are printed too.
"""

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
from bench.stack import backend_cpu_seconds, percentile, running_system, stack_cpu_seconds
from depot.events.v1 import events_pb2, events_pb2_grpc
from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.support.system import System

# The prompts triggers that write events (migration prompts 0006_events).
EVENT_TRIGGERS = (
    ("prompts", "events_prompt_created"),
    ("prompts", "events_versions_appended"),
    ("prompts", "events_best_changed"),
    ("prompts", "events_prompt_deleted"),
    ("label_moves", "events_label_moved"),
    ("feedback", "events_feedback_created"),
)
PROMPT_TEXT = "Rewrite this product description for a younger audience"
VERSION_TEXT = "Rewrite the description below for readers aged 18-25, keeping every fact"
SECONDS = 4.0
ROUNDS = int(os.environ.get("BENCH_EVENTS_ROUNDS", "5"))
STATEMENT_CREATES = int(os.environ.get("BENCH_EVENTS_STATEMENT_CREATES", "2000"))
RELAY_BATCH = 10
LATENCY_CHANGES = int(os.environ.get("BENCH_EVENTS_CHANGES", "500"))
# A create's two inserts as one statement (the service's create also inserts scores and bumps the
# owner's revision; neither fires an event trigger).
CREATE_SQL = """
WITH p AS (INSERT INTO prompts.prompts (owner, original_text, version_count, size_bytes)
           VALUES (%s, %s, 1, 200) RETURNING id)
INSERT INTO prompts.versions (prompt_id, version_no, text, source) SELECT id, 1, %s, 'syntax' FROM p
"""


def _event_triggers(conn: psycopg.Connection[Any], *, enabled: bool) -> None:
    for table, trigger in EVENT_TRIGGERS:
        conn.execute(f"ALTER TABLE prompts.{table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {trigger}")


def _drive(
    clients: int, connect: Callable[[], contextlib.AbstractContextManager[Callable[[], object]]]
) -> int:
    """`clients` threads calling as fast as answers come back for SECONDS; returns the calls made."""
    counts = [0] * clients
    deadline = time.perf_counter() + SECONDS

    def worker(i: int) -> None:
        with connect() as call:
            while time.perf_counter() < deadline:
                call()
                counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def trigger_cost(conn: psycopg.Connection[Any]) -> float:
    """Backend CPU (s) the event triggers add to a create's inserts."""
    cpu: dict[bool, list[float]] = {False: [], True: []}
    owner = f"bench-events-{time.time_ns()}"
    pid = conn.info.backend_pid
    try:
        for enabled in (False, True) * ROUNDS:
            _event_triggers(conn, enabled=enabled)
            before = backend_cpu_seconds(pid)
            for _ in range(STATEMENT_CREATES):
                conn.execute(CREATE_SQL, (owner, PROMPT_TEXT, VERSION_TEXT))
            cpu[enabled].append((backend_cpu_seconds(pid) - before) / STATEMENT_CREATES)
    finally:
        _event_triggers(conn, enabled=True)
    off, on = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(
        f"  the create's inserts, backend CPU: triggers off {off * 1e6:.0f} µs, on {on * 1e6:.0f} µs"
        f" (medians of {ROUNDS} rounds of {STATEMENT_CREATES})"
    )
    return on - off


def relay_cost(conn: psycopg.Connection[Any]) -> float:
    """Backend and client CPU (s) per event of placing committed events RELAY_BATCH at a time."""
    owner = f"bench-relay-{time.time_ns()}"
    with conn.transaction():  # the backlog commits at once, before the relay can take part of it
        for _ in range(STATEMENT_CREATES):
            conn.execute(CREATE_SQL, (owner, PROMPT_TEXT, VERSION_TEXT))
    pid = conn.info.backend_pid
    backend, client, placed = backend_cpu_seconds(pid), time.process_time(), 0
    while n := conn.execute("SELECT prompts.place_events(%s)", (RELAY_BATCH,)).fetchone()[0]:  # type: ignore[index]
        placed += n
    per_event = (backend_cpu_seconds(pid) - backend + time.process_time() - client) / max(placed, 1)
    print(f"  the relay, batches of {RELAY_BATCH}: {per_event * 1e6:.0f} µs CPU per event ({placed} placed)")
    return per_event


def outbox_write_cost(system: System, clients: int = 8) -> None:
    """The outbox's share of a create's CPU; the whole-stack rates with its triggers off and on."""
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

    print("outbox cost on a create (one unscored version):")
    rates: dict[bool, list[float]] = {False: [], True: []}
    stack_cpu: list[float] = []
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        trigger = trigger_cost(conn)
        relay = relay_cost(conn)
        try:
            for enabled in (False, True) * 2:
                _event_triggers(conn, enabled=enabled)
                before = stack_cpu_seconds(system)
                count = _drive(clients, connect)
                rates[enabled].append(count / SECONDS)
                if enabled:
                    stack_cpu.append((stack_cpu_seconds(system) - before) / max(count, 1))
        finally:
            _event_triggers(conn, enabled=True)
    per_create = statistics.median(stack_cpu)
    share = (trigger + relay) / per_create
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(
        f"  whole stack per gRPC create {per_create * 1e6:,.0f} µs CPU ({clients} clients);"
        f" rates off {off:,.0f} / on {on:,.0f} req/s ({on / off - 1:+.1%}, two rounds each: noisy on shared cores)"
    )
    record(
        "outbox cost on create-prompt throughput",
        value=f"{share:.1%} of a create's CPU",
        ratio=f"+{trigger * 1e6:.0f} µs trigger, +{relay * 1e6:.0f} µs relay of {per_create * 1e6:,.0f} µs",
        goal="< 10 %",
        met=share < 0.10,
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
        goal="all delivered, p99 < 1 s",
        met=len(latencies) == len(committed) and p99 < 1000,
    )


def main() -> None:
    # The relay of this stack looks once a minute, so the measurement's own calls place the events.
    with running_system(DEPOT_EVENTS_POLL_SECONDS="60") as system:
        outbox_write_cost(system)
    with running_system() as system:
        watch_latency(system)


if __name__ == "__main__":
    main()
