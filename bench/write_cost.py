"""The write cost of the effectiveness counters: what they add to a create, in CPU.

The statement alone, run back to back on one connection, with and without the counters (the
create statement without its counting CTE and the counters' triggers off), alternated round by
round, plus the service's own share (working out the per-agent figures the statement upserts and
their JSON); the difference is weighed against the whole stack's CPU per gRPC create with the counters
(the service, the gateway's peers and PostgreSQL's backends). Once the cores are saturated a
create's CPU decides the throughput, so that share is the throughput the counters cost; CPU time
is also steadier than a rate on a machine others share.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import psycopg

from bench.figures import record
from bench.stack import backend_cpu_seconds, stack_cpu_seconds
from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from services.common.database import Query
from services.prompts.rules import NewPrompt, NewVersion, ScoreSet
from services.prompts.statements import (
    counted_scores,
    create_prompt_params,
    create_prompt_statement,
    create_statement,
)
from tests.support.system import System

ROUNDS = int(os.environ.get("BENCH_WRITE_COST_ROUNDS", "4"))
STATEMENTS = 1500
SOURCES = ("syntax", "structure", "domain")
SCORES = {"clarity": 7.5, "specificity": 6.0, "actionability": 8.25, "structure": 5.0, "context_use": 9.0}
# The counters' triggers (migrations/prompts 0004), switched off for a bulk seed or a "without" run.
COUNTER_TRIGGERS = (
    ("scores", "agent_stats_scores"),
    ("scores", "agent_stats_scores_insert"),
    ("feedback", "agent_stats_feedback"),
    ("prompts", "agent_stats_best_head"),
    ("prompts", "agent_stats_prompt_delete"),
    ("versions", "agent_stats_version_delete"),
)


def counter_triggers(conn: psycopg.Connection[Any], *, enabled: bool) -> None:
    for table, trigger in COUNTER_TRIGGERS:
        conn.execute(f"ALTER TABLE prompts.{table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {trigger}")


def _prompt(scored: int) -> NewPrompt:
    """A create of `scored` scored versions (one unscored version when 0), as the service makes it."""
    versions = [
        NewVersion(
            text="Rewrite the description below for readers aged 18-25",
            source=source,
            scores=ScoreSet(**SCORES) if scored else None,
        )
        for source in SOURCES[: max(scored, 1)]
    ]
    return NewPrompt(
        owner=f"bench-{uuid.uuid4()}",
        request_id=None,
        agent_type=None,
        original_text="Rewrite this product description for a younger audience",
        best_version_no=1 if scored else None,
        request_hash=b"0" * 32,
        size_bytes=300,
        versions=versions,
    )


def _statement_cpu(conn: psycopg.Connection[Any], query: Query, prompt: NewPrompt) -> float:
    """Backend CPU seconds per create statement."""
    sql, defaults = query.compiled()
    params = {**defaults, **create_prompt_params(prompt)}
    before = backend_cpu_seconds(conn.info.backend_pid)
    for _ in range(STATEMENTS):
        conn.execute(sql, params)
    return (backend_cpu_seconds(conn.info.backend_pid) - before) / STATEMENTS


def _service_cpu(prompt: NewPrompt) -> float:
    """The service's CPU seconds per create for the counters: the per-agent figures and their JSON."""
    started = time.process_time()
    for _ in range(STATEMENTS):
        json.dumps(counted_scores(prompt))
    return (time.process_time() - started) / STATEMENTS


def _grpc_cpu(system: System, scored: int, clients: int = 8, calls: int = 2000) -> float:
    """The stack's CPU seconds per gRPC create, `clients` at once."""
    user = system.client()
    request = pb.CreatePromptRequest(
        original_text="Rewrite this product description for a younger audience",
        versions=[
            pb.NewVersion(text="Rewrite it for readers aged 18-25", source=source, scores=pb.Scores(**SCORES))
            for source in SOURCES[: max(scored, 1)]
        ],
    )
    if not scored:
        request.versions[0].ClearField("scores")

    @contextlib.contextmanager
    def stub() -> Iterator[Callable[[], object]]:
        with grpc.insecure_channel(system.stack.grpc_address("prompts")) as channel:
            client = prompts_pb2_grpc.PromptsServiceStub(channel)
            yield lambda: client.CreatePrompt(request, metadata=user.metadata, timeout=10)

    def worker(_: int) -> None:
        with stub() as call:
            for _ in range(calls // clients):
                call()

    # What the stack burns with no call at all (pollers, relays, the job worker) is no create's:
    # measured over an idle second first and taken out in proportion to the run's length.
    idle_started, idle_before = time.perf_counter(), stack_cpu_seconds(system)
    time.sleep(1.0)
    idle_rate = (stack_cpu_seconds(system) - idle_before) / (time.perf_counter() - idle_started)
    started, before = time.perf_counter(), stack_cpu_seconds(system)
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    busy = stack_cpu_seconds(system) - before - idle_rate * (time.perf_counter() - started)
    return busy / (calls // clients * clients)


def write_cost(system: System) -> None:
    print(
        "write cost of the effectiveness counters: PostgreSQL backend CPU per create statement"
        " and the service's for the figures it sends"
        f" ({STATEMENTS:,} back to back, with and without the counters alternated, medians of {ROUNDS}):"
    )
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        for scored, label in ((0, "one unscored version"), (3, "three scored versions")):
            # What the service runs (an unscored create has no scores to count: its statement has
            # no scores insert), against the same create without the counting.
            counted = create_statement(_prompt(scored))
            bare = create_prompt_statement(count_scores=False, scored=bool(scored))
            without: list[float] = []
            with_counters: list[float] = []
            try:
                for _ in range(ROUNDS):
                    counter_triggers(conn, enabled=False)
                    without.append(_statement_cpu(conn, bare, _prompt(scored)))
                    counter_triggers(conn, enabled=True)
                    with_counters.append(_statement_cpu(conn, counted, _prompt(scored)))
            finally:
                counter_triggers(conn, enabled=True)
            service = _service_cpu(_prompt(scored)) if scored else 0.0
            added = statistics.median(with_counters) + service - statistics.median(without)
            stack = _grpc_cpu(system, scored)
            print(
                f"  {label:<24} without {statistics.median(without) * 1e6:5.0f} µs  with"
                f" {statistics.median(with_counters) * 1e6:5.0f} µs + the service's {service * 1e6:.0f} µs"
                f"  = {added * 1e6:+4.0f} µs; a whole gRPC create costs the stack {stack * 1e6:,.0f} µs CPU"
            )
            record(
                f"write cost of the effectiveness counters, create with {label}",
                value=f"{added * 1e6:+.0f} µs CPU per create",
                ratio=f"{added / stack:+.1%} of a gRPC create's CPU ({stack * 1e6:,.0f} µs)",
                goal="<= 5 % (throughput drop)",
                met=added / stack <= 0.05,
            )
