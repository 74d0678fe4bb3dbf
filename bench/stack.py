"""A private stack for a benchmark: embedded PostgreSQL plus every service, torn down at the end."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
