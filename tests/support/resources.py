"""What one hostile request costs a service: its peak resident memory, and another user's wait meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import psutil

from tests.support.system import System

T = TypeVar("T")


@contextmanager
def peak_rss(pid: int) -> Iterator[Callable[[], int]]:
    """Samples the process's RSS every 10 ms; yields a function giving the growth over the start so far."""
    process = psutil.Process(pid)
    start = process.memory_info().rss
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield lambda: peak - start
    finally:
        done.set()
        sampler.join()


def run_beside_another_user(
    system: System, service: str, cheap: Callable[[], None], hostile: Callable[[], T]
) -> tuple[T, int, float]:
    """Runs `hostile` while `cheap` (another user's small request) repeats; returns what `hostile`
    returned, the growth of `service`'s RSS, and the other user's worst wait in seconds."""
    worst = 0.0
    finished = threading.Event()

    def cheap_requests() -> None:
        nonlocal worst
        while not finished.is_set():
            began = time.monotonic()
            cheap()
            worst = max(worst, time.monotonic() - began)
            time.sleep(0.02)

    with peak_rss(system.stack.processes[service].pid) as growth, ThreadPoolExecutor(1) as pool:
        other = pool.submit(cheap_requests)
        try:
            result = hostile()
        finally:
            finished.set()
            other.result()
        return result, growth(), worst
