"""Takeout and restore of one whole account: prompts with versions and scores, and chat files.

Takeout: POST /exports {"source": "account", "format": "zip"} followed to its end and the zip
downloaded, against reading the same rows and bytes straight from PostgreSQL (the prompts,
versions and scores rows of the owner, and every chunk of their files). Restore: the zip uploaded
to POST /imports into another user and its job followed to the end, against the same direct read.
Peak RSS (VmHWM) of the exports service and the gateway after a small takeout and restore, then
after the big ones: the growth is what the account's size costs (goal < 100 MiB).

Default size: 1,000 prompts and 64 MiB of files (a minute or two). The full size of the issue,
10,000 prompts and 1 GiB of files: BENCH_TAKEOUT_PROMPTS=10000 BENCH_TAKEOUT_FILE_MIB=1024.
Prompts are seeded with SQL (seeding is not what is measured); files through the gateway.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.figures import record
from bench.stack import peak_rss_mib, running_system
from tests.support.system import System, User
from tests.takeout.support import put_file

MB = 1e6
PROMPTS = int(os.environ.get("BENCH_TAKEOUT_PROMPTS", "1000"))
FILE_MIB = int(os.environ.get("BENCH_TAKEOUT_FILE_MIB", "64"))
FILE_BYTES = 4 * 1024 * 1024  # each file; the files go 25 to a chat
VERSIONS = 3

_SEED = [
    """INSERT INTO prompts.prompts (owner, request_id, agent_type, original_text, version_count, best_version_no)
       SELECT %(owner)s, 'bench-' || p, 'bench', 'Original prompt ' || p || ' ' || repeat(md5(p::text), 4),
              %(per)s, 2
       FROM generate_series(1, %(prompts)s) p""",
    """INSERT INTO prompts.versions (prompt_id, version_no, text, source, parent_version_no, created_at)
       SELECT pr.id, v, 'Version ' || v || ': ' || repeat(md5(pr.id::text || v), 8),
              (ARRAY['syntax', 'structure', 'domain'])[1 + v %% 3], CASE WHEN v > 1 THEN 1 END,
              pr.created_at + v * interval '1 millisecond'
       FROM prompts.prompts pr CROSS JOIN generate_series(1, %(per)s) v WHERE pr.owner = %(owner)s""",
    """INSERT INTO prompts.scores (prompt_id, version_no, clarity, specificity, actionability, structure, context_use)
       SELECT v.prompt_id, v.version_no, 5, 6, 7, 8, CASE WHEN v.version_no = 2 THEN 9 ELSE 1 END
       FROM prompts.versions v JOIN prompts.prompts p ON p.id = v.prompt_id WHERE p.owner = %(owner)s""",
    """INSERT INTO prompts.owner_revisions (owner, revision) VALUES (%(owner)s, 1)
       ON CONFLICT (owner) DO UPDATE SET revision = prompts.owner_revisions.revision + 1""",
]
_DIRECT = [
    "SELECT * FROM prompts.prompts WHERE owner = %(owner)s",
    """SELECT v.* FROM prompts.versions v JOIN prompts.prompts p ON p.id = v.prompt_id
       WHERE p.owner = %(owner)s""",
    """SELECT s.* FROM prompts.scores s JOIN prompts.prompts p ON p.id = s.prompt_id
       WHERE p.owner = %(owner)s""",
    """SELECT c.data FROM files.file_chunks c JOIN files.chat_files f ON f.content_id = c.content_id
       WHERE f.owner = %(owner)s""",
]


def seed(system: System, user: User, *, prompts: int, file_mib: int) -> int:
    """The account: prompts by SQL, files through the gateway; returns the file bytes."""
    with psycopg.connect(system.database.url) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in _SEED:
            conn.execute(statement, {"owner": user.id, "per": VERSIONS, "prompts": prompts})
    total, n = 0, 0
    while total < file_mib * 1024 * 1024:
        size = min(FILE_BYTES, file_mib * 1024 * 1024 - total)
        put_file(user, f"chat-{n // 25}", f"file-{n}.bin", os.urandom(size))
        total, n = total + size, n + 1
    return total


def direct_read(system: System, owner: str) -> tuple[int, float]:
    """Bytes of the account's rows and file chunks read straight from PostgreSQL, and the seconds."""
    size = 0
    started = time.perf_counter()
    with psycopg.connect(system.database.url) as conn:
        for query in _DIRECT:
            with conn.cursor(name="bench") as cursor:
                cursor.itersize = 64
                cursor.execute(query, {"owner": owner})
                for row in cursor:
                    size += sum(len(value) if isinstance(value, (bytes, str)) else 8 for value in row)
    return size, time.perf_counter() - started


def takeout(user: User, path: Path) -> tuple[int, float]:
    """Writes the zip to `path`; its size, and the seconds from the request to its last byte."""
    started = time.perf_counter()
    reply = user.http.post("/api/v1/exports", json={"source": "account", "format": "zip"}, timeout=600)
    assert reply.status_code in (200, 201, 202), reply.text
    body: dict[str, Any] = reply.json()
    while body["status"] in ("queued", "processing"):
        body = user.http.get(f"/api/v1/exports/{body['id']}", params={"wait": 30}, timeout=60).json()
    assert body["status"] == "completed", body
    with user.http.stream("GET", f"/api/v1/exports/{body['id']}/content", timeout=3600) as stream:
        assert stream.status_code == 200
        with path.open("wb") as out:
            for chunk in stream.iter_bytes(1024 * 1024):
                out.write(chunk)
    return path.stat().st_size, time.perf_counter() - started


def restore(user: User, path: Path) -> tuple[dict[str, Any], float]:
    """The ended import job, and the seconds from the upload's first byte to the job's end."""
    started = time.perf_counter()
    with path.open("rb") as archive:
        reply = user.http.post(
            "/api/v1/imports", content=archive, headers={"content-type": "application/zip"}, timeout=3600
        )
    assert reply.status_code == 202, reply.text
    job: dict[str, Any] = reply.json()
    while job["status"] in ("queued", "processing"):
        time.sleep(0.2)
        job = user.http.get(f"/api/v1/imports/{job['id']}").json()
    assert job["status"] == "completed" and not job["errors"], job
    return job, time.perf_counter() - started


def main() -> None:
    with running_system(DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE="1000") as system:
        pids = {name: system.stack.processes[name].pid for name in ("exports", "gateway")}
        small, small_to = system.client(), system.client()
        scratch = Path(tempfile.mkdtemp(prefix="depot-bench-takeout-"))
        seed(system, small, prompts=20, file_mib=4)
        takeout(small, scratch / "small.zip")
        restore(small_to, scratch / "small.zip")
        baseline = {name: peak_rss_mib(pid) for name, pid in pids.items()}

        owner, receiver = system.client(), system.client()
        file_bytes = seed(system, owner, prompts=PROMPTS, file_mib=FILE_MIB)
        size, direct = direct_read(system, owner.id)
        archive_bytes, out_seconds = takeout(owner, scratch / "account.zip")
        after_takeout = {name: peak_rss_mib(pid) for name, pid in pids.items()}
        job, in_seconds = restore(receiver, scratch / "account.zip")
        after_restore = {name: peak_rss_mib(pid) for name, pid in pids.items()}
        _, direct_restored = direct_read(system, receiver.id)
        shutil.rmtree(scratch)

    print(f"account: {PROMPTS:,} prompts x {VERSIONS} scored versions, {file_bytes / MB:.0f} MB of files")
    print(
        f"  direct read of its rows and chunks (psycopg)  {size / MB:7.1f} MB in {direct:.1f} s = {size / MB / direct:.0f} MB/s"
    )
    print(
        f"  takeout (job + download of the {archive_bytes / MB:.0f} MB zip)  {out_seconds:.1f} s"
        f" = {size / MB / out_seconds:.0f} MB/s = {direct / out_seconds:.0%} of the direct read"
    )
    print(
        f"  restore (upload + verify + recreate)  {in_seconds:.1f} s = {size / MB / in_seconds:.0f} MB/s,"
        f" {job['counts']['prompts'] / in_seconds:.0f} prompts/s; counts {job['counts']}"
        f" (the restored account reads back directly in {direct_restored:.1f} s)"
    )
    print("peak RSS (VmHWM) after a 20-prompt takeout and restore, then the big ones:")
    growth = 0.0
    for name in pids:
        print(
            f"  {name:<8} {baseline[name]:6.1f} MiB -> takeout {after_takeout[name]:6.1f} MiB"
            f" -> restore {after_restore[name]:6.1f} MiB (goal: growth < 100 MiB)"
        )
        growth = max(growth, after_restore[name] - baseline[name])
    record(
        f"takeout of {PROMPTS:,} prompts + {file_bytes / MB:.0f} MB of files vs reading them directly",
        value=f"{size / MB / out_seconds:.0f} MB/s",
        ratio=f"{direct / out_seconds:.0%} of the direct read ({size / MB / direct:.0f} MB/s)",
        goal="peak RSS growth < 100 MiB",
        met=growth < 100,
    )
    record(
        "restore of that takeout into another user vs reading it directly",
        value=f"{size / MB / in_seconds:.0f} MB/s",
        ratio=f"{direct / in_seconds:.0%} of the direct read; RSS growth {growth:.0f} MiB",
        goal="peak RSS growth < 100 MiB",
        met=growth < 100,
    )


if __name__ == "__main__":
    main()
