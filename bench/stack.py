"""A private stack for a benchmark: embedded PostgreSQL plus every service, torn down at the end."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.system import Database, System


@contextlib.contextmanager
def running_system(*, replicas: int = 1, **settings: str) -> Iterator[System]:
    """`replicas` processes of each gRPC service (see tests/support/system.py)."""
    with tempfile.TemporaryDirectory(prefix="depot-bench-") as scratch:
        directory = Path(scratch)
        database = Database.start(directory)
        try:
            with System.running(database, directory, replicas=replicas, **settings) as system:
                yield system
        finally:
            database.postgres.stop()


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split())


def _stat_cpu_seconds(fields: list[str]) -> float:
    """utime + stime of /proc/<pid>/stat's fields after the command name."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    """CPU seconds a single-threaded process (a PostgreSQL backend) has run, to the nanosecond
    (/proc/<pid>/schedstat). /proc/<pid>/stat counts 10 ms clock ticks: over a round of 2,000
    statements of about 150 µs that is a step of 5 µs in a per-statement cost, as large as a third
    of the differences measured with it (the outbox trigger's 20-30 µs)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def stack_cpu_seconds(system: System) -> float:
    """User and system CPU so far of the stack's processes and of PostgreSQL's (the postmaster and
    its children, the backends)."""
    postmaster = system.database.postgres.pid
    pids = {process.pid for process in system.stack.processes.values()} | {postmaster or 0}
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(stat.parent.name) in pids or int(fields[1]) == postmaster:
            total += _stat_cpu_seconds(fields)
    return total


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far, every core (/proc/stat less idle and iowait):
    what a process that came and went meanwhile, such as a backend of a short connection, used too."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def settle(url: str) -> None:
    """Vacuums and analyzes the whole database now, so that what the benchmark wrote (seeded rows,
    stored exports) is not vacuumed by an autovacuum worker in the middle of a measurement: one
    vacuuming the 1.2M freshly seeded versions ran through the cached-download figure, a fifth
    process on the two cores the compared paths share (that figure went 43..56 % from run to run)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
