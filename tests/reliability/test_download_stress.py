"""Download stress, long form: 10 rounds of 100 parallel downloads of one export per blob store, half
of them cut off after their first bytes. Every client that stays gets the exact bytes; the exports
process keeps its PID, logs no failure, and is back to its threads of before once the crowd has
gone (each download's stream thread ends with it). tests/exports/test_download_stress.py runs the
short form in every `make test`; this one runs under `--long` only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.exports.stress import (
    Outcome,
    crowd,
    exports_log,
    forbidden_lines,
    large_export,
    store_settings,
)
from tests.reliability.conftest import Suite
from tests.support.s3 import running_s3_server
from tests.support.system import System

ROUNDS, CLIENTS = 10, 100
SETTLE_SECONDS = 60.0
SPARE_THREADS = 2  # a pool may keep a worker it started meanwhile


@pytest.fixture(autouse=True)
def _long_only(long_run: bool) -> None:
    if not long_run:
        pytest.skip("a long-run suite (make reliability); the short form runs in tests/exports")


@pytest.fixture(params=["postgres", "local", pytest.param("s3", marks=pytest.mark.s3)])
def crowded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    store = request.param
    if store != "s3":
        with System.on_own_database(tmp_path, **store_settings(store, tmp_path, None)) as system:
            yield system
        return
    with (
        running_s3_server(tmp_path / "s3") as s3,
        System.on_own_database(tmp_path, **store_settings(store, tmp_path, s3)) as system,
    ):
        yield system


def settled_threads(process: psutil.Process, ceiling: int) -> int:
    """The process's thread count once it is at most `ceiling`, or as it stands after the wait."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while (threads := process.num_threads()) > ceiling and time.monotonic() < deadline:
        time.sleep(0.2)
    return threads


def test_a_thousand_downloads_half_cut_off_leave_the_exports_process_as_it_was(
    crowded: System, suite: Suite, request: pytest.FixtureRequest
) -> None:
    store = request.node.callspec.params["crowded"]
    user = crowded.client()
    export = large_export(user)
    exports = crowded.stack.processes["exports"]
    watched = psutil.Process(exports.pid)
    total = crowd(user, export, clients=CLIENTS)  # a warm-up round: pools grow to their working size
    baseline = settled_threads(watched, 0)
    started = time.perf_counter()
    for round_no in range(1, ROUNDS):
        outcome = crowd(user, export, clients=CLIENTS)
        assert outcome.wrong == [], f"round {round_no}: clients got wrong answers: {outcome.wrong[:5]}"
        total.add(outcome)
    seconds = time.perf_counter() - started
    threads = settled_threads(watched, baseline + SPARE_THREADS)
    suite.trials(ROUNDS * CLIENTS)
    suite.figure(f"{store}_downloads", f"{total.completed}+{total.cut} cut")
    suite.figure(f"{store}_threads", f"{baseline}->{threads}")
    suite.figure(f"{store}_seconds", f"{seconds:.1f}")
    assert total == Outcome(completed=ROUNDS * CLIENTS // 2, cut=ROUNDS * CLIENTS // 2)
    assert exports.poll() is None, f"the exports process exited with {exports.returncode}"
    assert crowded.stack.processes["exports"].pid == watched.pid
    assert threads <= baseline + SPARE_THREADS, f"threads grew from {baseline} to {threads} and stayed"
    assert forbidden_lines(exports_log(crowded)) == [], "the exports process logged failures"
