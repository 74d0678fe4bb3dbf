"""Files benchmarks: 20 MiB through the gateway against psycopg straight to PostgreSQL, memory of ten
concurrent transfers against one, listing a chat of 10,000 files, and what quota accounting costs an upload.

The HTTP client of the transfers is the standard library's http.client reading into one buffer: a
lean client, as libpq is on the psycopg side. httpx parses every 64 KiB in Python (about 40 ms of
CPU per 20 MiB here, on the same two cores as the servers); its figure is printed beside, for
reference.
"""

from __future__ import annotations

import http.client
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg

from bench.stack import peak_rss_mib, percentile, running_system
from services.files.quota import PRECHECK_ABOVE_BYTES
from tests.support.system import System, User

MIB = 1024 * 1024
SIZE = 20 * MIB
ROUNDS = 5
CONCURRENT = 10
LIST_FILES = 10_000


def _median_seconds(action: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rate(seconds: float) -> float:
    return SIZE / 1e6 / seconds


def straight_to_postgres(url: str, payload: bytes) -> tuple[float, float]:
    """Median seconds to write and to read the payload as one bytea value with psycopg (binary)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.bench_blob (id serial PRIMARY KEY, content bytea)")
        write = _median_seconds(
            lambda: conn.execute("INSERT INTO public.bench_blob (content) VALUES (%s)", (payload,))
        )

        def read() -> None:
            with conn.cursor(binary=True) as cur:
                cur.execute("SELECT content FROM public.bench_blob ORDER BY id LIMIT 1")
                row = cur.fetchone()
                assert row is not None and len(row[0]) == SIZE

        read_seconds = _median_seconds(read)
        conn.execute("DROP TABLE public.bench_blob")
    return write, read_seconds


class Client:
    """One user's HTTP/1.1 connection to the gateway."""

    def __init__(self, system: System, user: User) -> None:
        host, port = system.url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)
        self.headers = {"Authorization": f"Bearer {user.token}"}
        self.buffer = memoryview(bytearray(MIB))

    def put(self, name: str, payload: bytes) -> None:
        self.connection.request(
            "PUT", f"/api/v1/chats/bench/files/{name}", body=payload, headers=self.headers
        )
        reply = self.connection.getresponse()
        body = reply.read()
        assert reply.status in (200, 201), body

    def get(self, name: str) -> None:
        self.connection.request("GET", f"/api/v1/chats/bench/files/{name}", headers=self.headers)
        reply = self.connection.getresponse()
        assert reply.status == 200
        received = 0
        while count := reply.readinto(self.buffer):
            received += count
        assert received == SIZE


def _httpx_get(user: User, name: str) -> None:
    received = 0
    with user.http.stream("GET", f"/api/v1/chats/bench/files/{name}") as reply:
        for chunk in reply.iter_raw(MIB):
            received += len(chunk)
    assert received == SIZE


def throughput(system: System, payload: bytes) -> None:
    user = system.client()
    client = Client(system, user)
    raw_write, raw_read = straight_to_postgres(system.database.url, payload)
    upload = _median_seconds(lambda: client.put("big.bin", payload))
    download = _median_seconds(lambda: client.get("big.bin"))
    with_httpx = _median_seconds(lambda: _httpx_get(user, "big.bin"))
    print(f"20 MiB file, median of {ROUNDS}:")
    print(
        f"  psycopg straight to PostgreSQL  write {_rate(raw_write):7.1f} MB/s   read {_rate(raw_read):7.1f} MB/s"
    )
    print(
        f"  through the gateway             upload {_rate(upload):6.1f} MB/s = {raw_write / upload:.0%} of write"
        f"   download {_rate(download):6.1f} MB/s = {raw_read / download:.0%} of read"
    )
    print(
        f"  (download with httpx as the client: {_rate(with_httpx):.1f} MB/s = {raw_read / with_httpx:.0%})"
    )
    print("  goals: upload >= 35 %, download >= 50 %")


def memory(system: System, payload: bytes) -> None:
    pids = {name: system.stack.processes[name].pid for name in ("gateway", "files")}
    users = [system.client() for _ in range(CONCURRENT)]
    clients = [Client(system, user) for user in users]
    clients[0].put("one.bin", payload)
    clients[0].get("one.bin")
    one = {name: peak_rss_mib(pid) for name, pid in pids.items()}
    with ThreadPoolExecutor(CONCURRENT) as pool:
        list(pool.map(lambda i: clients[i].put(f"ten-{i}.bin", payload), range(CONCURRENT)))
        list(pool.map(lambda i: clients[i].get(f"ten-{i}.bin"), range(CONCURRENT)))
    ten = {name: peak_rss_mib(pid) for name, pid in pids.items()}
    print(
        f"peak RSS (VmHWM), one 20 MiB upload+download, then {CONCURRENT} concurrent uploads and downloads:"
    )
    for name in pids:
        print(
            f"  {name:<8} one {one[name]:6.1f} MiB   ten {ten[name]:6.1f} MiB   growth {ten[name] - one[name]:5.1f} MiB"
        )
    growth = sum(ten.values()) - sum(one.values())
    print(f"  together growth {growth:.1f} MiB (goal < 100 MiB)")
    for user in users:
        user.http.close()


# 10,000 files in one chat, written in one statement (the bench measures listing, not uploads).
SEED_SQL = """
INSERT INTO files.chats (owner, chat_id, revision) VALUES (%(owner)s, 'big-chat', nextval('files.revisions'));
INSERT INTO files.chat_files (owner, chat_id, filename, file_type, media_type, content_id, chunk_bytes,
                              size_bytes, sha256, revision, created_at)
SELECT %(owner)s, 'big-chat', 'file-' || lpad(i::text, 5, '0') || '.txt', 'text', 'text/plain',
       md5('content' || i)::uuid, 262144, 0, encode(sha256(''::bytea), 'hex'), 1,
       now() - make_interval(secs => i)
FROM generate_series(1, %(files)s) i;
ANALYZE files.chat_files;
"""


def listing(system: System) -> None:
    user = system.client()
    with psycopg.connect(system.database.url, autocommit=True) as conn:
        for statement in filter(str.strip, SEED_SQL.split(";")):
            conn.execute(statement, {"owner": user.id, "files": LIST_FILES})  # type: ignore[arg-type]
    latencies: list[float] = []
    token, pages = "", 0
    for _ in range(3):  # every page three times: first, middle and last pages alike
        while True:
            start = time.perf_counter()
            reply = user.http.get(
                "/api/v1/chats/big-chat/files", params={"page_size": 100, "page_token": token}
            )
            latencies.append(time.perf_counter() - start)
            assert reply.status_code == 200 and len(reply.json()["items"]) == 100
            token = reply.json()["next_page_token"]
            pages += 1
            if not token:
                break
    print(f"listing a chat of {LIST_FILES:,} files, 100-item pages through the gateway:")
    print(
        f"  {pages} pages  p50 {percentile(latencies, 0.5) * 1000:.1f} ms"
        f"  p95 {percentile(latencies, 0.95) * 1000:.1f} ms  (goal: p50 < 50 ms)"
    )


SMALL = 4096
SMALL_UPLOADS = 200
# The statements quota accounting adds to an upload (services/files/quota.py): the check of an
# announced size before the bytes are read (only over PRECHECK_ABOVE_BYTES), then at commit the
# usage upsert that returns the quota.
PRECHECK_SQL = (
    "SELECT (SELECT used_bytes FROM files.usage WHERE owner = %(owner)s),"
    " (SELECT quota_bytes FROM files.quota_overrides WHERE owner = %(owner)s),"
    " (SELECT size_bytes FROM files.chat_files WHERE owner = %(owner)s AND chat_id = 'bench'"
    " AND filename = 'none.bin')"
)
CHARGE_SQL = (
    "INSERT INTO files.usage (owner, used_bytes) VALUES (%(owner)s, %(delta)s) ON CONFLICT (owner)"
    " DO UPDATE SET used_bytes = files.usage.used_bytes + %(delta)s RETURNING used_bytes,"
    " (SELECT quota_bytes FROM files.quota_overrides WHERE owner = %(owner)s)"
)


def accounting_seconds(url: str, owner: str, size: int, rounds: int = 500) -> float:
    """Median seconds of the accounting statements of an upload of `size` bytes with a
    Content-Length, in a transaction (rolled back), straight to PostgreSQL."""
    statements = (PRECHECK_SQL, CHARGE_SQL) if size > PRECHECK_ABOVE_BYTES else (CHARGE_SQL,)
    times = []
    with psycopg.connect(url) as conn:
        for _ in range(rounds):
            with conn.transaction(force_rollback=True):
                start = time.perf_counter()
                for statement in statements:
                    conn.execute(statement, {"owner": owner, "delta": size}).fetchall()
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def quota_cost(system: System, payload: bytes) -> None:
    """What counting usage against a quota costs an upload: the accounting's own time against an upload's."""
    user, admin = system.client(), system.client(admin=True)
    client = Client(system, user)
    client.put("first.bin", b"x")
    reply = admin.http.put(f"/api/v1/users/{user.id}/quota", json={"quota_bytes": 1 << 40})
    assert reply.status_code == 200, reply.text
    names = iter(range(1_000_000))  # new names: every upload adds to the usage
    big = _median_seconds(lambda: client.put(f"q{next(names)}.bin", payload))
    small_payload = os.urandom(SMALL)
    small = _median_seconds(lambda: client.put(f"s{next(names)}.bin", small_payload), rounds=SMALL_UPLOADS)
    big_accounting = accounting_seconds(system.database.url, user.id, len(payload))
    small_accounting = accounting_seconds(system.database.url, user.id, SMALL)
    print(
        f"quota accounting (over {PRECHECK_ABOVE_BYTES // 1024} KiB the size check, then the usage upsert"
        " under the user's row lock):"
    )
    print(
        f"  the statements alone, median {big_accounting * 1000:.3f} ms (20 MiB),"
        f" {small_accounting * 1000:.3f} ms (4 KiB)"
    )
    print(
        f"  20 MiB upload {big * 1000:7.1f} ms ({_rate(big):.1f} MB/s): accounting {big_accounting / big:.2%}"
        f"   4 KiB upload {small * 1000:5.1f} ms: accounting {small_accounting / small:.2%}   (goal < 5 %)"
    )
    admin.http.close()
    user.http.close()


def main() -> None:
    payload = os.urandom(SIZE)
    with running_system() as system:
        throughput(system, payload)
        memory(system, payload)
        listing(system)
        quota_cost(system, payload)


if __name__ == "__main__":
    main()
