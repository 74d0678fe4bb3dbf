"""Job queue benchmark: 200 small dataset exports queued at once and worked by two exports
processes. Prints jobs/s from the first request to the last completion, how the jobs split
between the processes, each job's latency (queued → completed), and checks that no job was
done twice: every one completed on its first attempt, with exactly one stored blob.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from itertools import product

import psycopg

from bench.stack import percentile, running_system
from tests.support.system import System, User, free_port

JOBS = 200
DATASETS = ("multi-agent", "temporal", "feedback", "effectiveness", "all")
VARIANTS = list(product(DATASETS, ("json", "csv"), ("safe", "raw")))  # 20 cache keys per user
USERS = JOBS // len(VARIANTS)


def seed(user: User) -> None:
    prompt = user.create_prompt(
        request_id=f"bench-{user.id}",
        versions=[
            {"text": f"v{i}", "source": "syntax", "scores": dict.fromkeys(_SCORES, 7)} for i in range(3)
        ],
    )
    assert prompt["id"]


_SCORES = ("clarity", "specificity", "actionability", "structure", "context_use")


def queue_all(users: list[User]) -> list[str]:
    def request(job: tuple[User, tuple[str, str, str]]) -> str:
        user, (dataset, fmt, mode) = job
        reply = user.http.post(
            "/api/v1/exports",
            json={"source": f"datasets/{dataset}", "format": fmt, "options": {"csv_mode": mode}},
        )
        assert reply.status_code == 202, reply.text
        return str(reply.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(request, product(users, VARIANTS)))


def until_all_ended(url: str, ids: list[str], timeout: float = 600) -> list[tuple[object, ...]]:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                """SELECT id, status, attempts, lease_owner, created_at, updated_at,
                          (SELECT count(DISTINCT key) FROM exports.blob_chunks
                            WHERE key = 'exports/' || e.id OR key LIKE 'exports/' || e.id || '.%%')
                   FROM exports.exports e WHERE id = ANY(%s::uuid[])""",
                (ids,),
            ).fetchall()
            if all(row[1] in ("completed", "failed") for row in rows):
                return rows
            assert time.monotonic() < deadline, "the jobs did not all end in time"
            time.sleep(0.05)


def run(system: System) -> None:
    users = [system.client() for _ in range(USERS)]
    for user in users:
        seed(user)
    started = time.perf_counter()
    ids = queue_all(users)
    queued = time.perf_counter() - started
    rows = until_all_ended(system.database.url, ids)
    total = time.perf_counter() - started
    for user in users:
        user.http.close()

    statuses = {row[1] for row in rows}
    twice = [row for row in rows if row[2] != 1 or row[6] != 1]
    by_process: dict[str, int] = {}
    for row in rows:
        pid = str(row[3]).split(":")[1]
        by_process[pid] = by_process.get(pid, 0) + 1
    latencies = [(row[5] - row[4]).total_seconds() for row in rows]
    print(f"{len(rows)} queued small exports (datasets as json/csv), two exports processes:")
    print(f"  {len(rows) / total:6.1f} jobs/s  ({total:.1f} s from the first request to the last completion;")
    print(f"  the 200 requests themselves took {queued:.1f} s = {len(rows) / queued:.0f} requests/s)")
    print(f"  jobs per process: {sorted(by_process.values(), reverse=True)}")
    print(
        f"  queued -> completed latency: p50 {percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s"
    )
    print(f"  statuses {sorted(statuses)}; done more than once (attempts != 1 or blobs != 1): {len(twice)}")
    assert statuses == {"completed"}, statuses
    assert not twice, twice[:5]


def main() -> None:
    port = free_port()
    with running_system(
        DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE="100000", DEPOT_EXPORT_JOB_POLL_SECONDS="1"
    ) as system:
        system.start_replica("exports", port)
        run(system)


if __name__ == "__main__":
    main()
