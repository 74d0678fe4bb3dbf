"""Pipeline formats: the temporal dataset of BENCH_PIPELINE_ROWS versions (default 200,000; the
issue's figure is 1,000,000) as JSON Lines and as Parquet against the CSV path (PostgreSQL's COPY
passed through), through the gateway as queued jobs: rows per second of render + store, and the
exports process's peak RSS growth while it renders (goal < 100 MiB, whatever the row count).

Peak RSS is the kernel's high-water mark (VmHWM), reset before each big export (`5` written to
/proc/<pid>/clear_refs), so each format's peak is its own. A small export of each format runs
first, so that pyarrow's import (a one-time cost, reported on its own) is not counted as growth.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.exports import seed_versions
from bench.figures import record
from bench.stack import running_system
from tests.support.system import System, User

ROWS = int(os.environ.get("BENCH_PIPELINE_ROWS", "200000"))
SMALL_ROWS = 10_000
FORMATS = ("csv", "jsonl", "parquet")
RSS_GOAL_MIB = 100.0
MIB = 1024 * 1024


def rss_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def reset_peak(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS (Linux >= 4.0); False where that is refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def export(user: User, fmt: str) -> tuple[dict[str, Any], float]:
    """The temporal dataset in `fmt`: a queued job followed to its end; the seconds it took."""
    started = time.perf_counter()
    reply = user.http.post(
        "/api/v1/exports", json={"source": "datasets/temporal", "format": fmt}, timeout=600
    )
    assert reply.status_code in (200, 202), reply.text
    body: dict[str, Any] = reply.json()
    while body["status"] in ("queued", "processing"):
        body = user.http.get(reply.headers["location"], params={"wait": 30}, timeout=60).json()
    assert body["status"] == "completed", body
    return body, time.perf_counter() - started


def content(user: User, export_id: str) -> bytes:
    reply = user.http.get(f"/api/v1/exports/{export_id}/content", timeout=600)
    assert reply.status_code == 200, reply.text[:300]
    return reply.content


def check_rows(user: User, fmt: str, body: dict[str, Any], rows: int) -> None:
    """The rendering holds every row (read back with the format's reader)."""
    assert body["receipt"]["row_count"] == rows, body["receipt"]
    data = content(user, str(body["id"]))
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(data), columns=["version_no", "total"])
        assert table.num_rows == rows and str(table.schema.field("total").type) == "double"
    elif fmt == "jsonl":
        assert data.count(b"\n") == rows
    else:
        assert data.count(b"\n") >= rows  # a header line, and rows whose text holds none


def import_cost() -> tuple[float, float, float]:
    """Seconds and MiB (peak RSS) a fresh interpreter spends importing pyarrow.parquet, and the MiB
    pyarrow takes on disk in the virtual environment."""

    def run(code: str) -> tuple[float, float]:
        started = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                # VmHWM, not ru_maxrss: that one keeps the parent's peak across fork and exec.
                f"{code}\nprint(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return time.perf_counter() - started, int(out.split()[-1]) / 1024

    bare = min(run("pass") for _ in range(3))
    loaded = min(run("import pyarrow, pyarrow.parquet") for _ in range(3))
    import pyarrow

    package = Path(pyarrow.__file__).parent
    disk = sum(f.stat().st_size for f in package.rglob("*") if f.is_file()) / MIB
    return loaded[0] - bare[0], loaded[1] - bare[1], disk


def measure(system: System, small: User, big: User) -> None:
    pid = system.stack.processes["exports"].pid
    before_pyarrow = rss_mib(pid, "VmRSS")
    warm: dict[str, float] = {}
    for fmt in FORMATS:
        body, warm[fmt] = export(small, fmt)
        check_rows(small, fmt, body, SMALL_ROWS)
    after_pyarrow = rss_mib(pid, "VmRSS")
    seconds, import_mib, disk_mib = import_cost()
    print(
        f"pyarrow 26.0.1: {disk_mib:.0f} MiB in the venv; importing pyarrow.parquet takes {seconds:.2f} s and"
        f" {import_mib:.0f} MiB in a fresh interpreter; the exports service pays it at its first parquet"
        f" rendering (RSS {before_pyarrow:.0f} -> {after_pyarrow:.0f} MiB after one export of each format), not at start-up"
    )
    rates: dict[str, float] = {}
    growth: dict[str, float] = {}
    sizes: dict[str, int] = {}
    print(f"the temporal dataset, {ROWS:,} versions, rendered and stored as a job:")
    for fmt in FORMATS:
        resets = reset_peak(pid)
        start_rss = rss_mib(pid, "VmRSS") if resets else rss_mib(pid, "VmHWM")
        body, took = export(big, fmt)
        peak = rss_mib(pid, "VmHWM")
        growth[fmt] = peak - start_rss
        rates[fmt] = ROWS / took
        sizes[fmt] = int(body["size_bytes"])
        check_rows(big, fmt, body, ROWS)
        print(
            f"  {fmt:<8} {took:6.1f} s  {rates[fmt]:>9,.0f} rows/s  {sizes[fmt] / 1e6:7.1f} MB"
            f"  peak RSS growth {growth[fmt]:5.1f} MiB (goal < {RSS_GOAL_MIB:.0f})"
            + ("" if resets else "  [VmHWM not resettable: growth over the run's peak]")
        )
    for fmt in ("jsonl", "parquet"):
        record(
            f"{fmt} of {ROWS:,} versions vs the CSV path (rows/s; peak RSS growth)",
            value=f"{rates[fmt]:,.0f} rows/s, +{growth[fmt]:.0f} MiB",
            ratio=f"{rates[fmt] / rates['csv']:.0%} of CSV ({rates['csv']:,.0f} rows/s)",
            goal=f"RSS growth < {RSS_GOAL_MIB:.0f} MiB",
            met=growth[fmt] < RSS_GOAL_MIB,
        )


def main() -> None:
    with running_system(DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE="1000") as system:
        small, big = system.client(), system.client()
        started = time.perf_counter()
        seed_versions(system.database.url, small.id, SMALL_ROWS)
        seed_versions(system.database.url, big.id, ROWS)
        print(f"(seeded {SMALL_ROWS + ROWS:,} versions with SQL in {time.perf_counter() - started:.0f} s)")
        measure(system, small, big)
        small.http.close()
        big.http.close()


if __name__ == "__main__":
    main()
