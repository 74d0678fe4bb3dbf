"""The background helper every service's periodic work runs on: a loop that survives a failed pass,
stops cleanly (the running pass included), and an advisory lock one replica at a time holds, on the
real PostgreSQL."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.common.background import Periodic, one_replica_at_a_time
from services.common.database import Database
from tests.support.system import Database as SessionDatabase

WAIT = 30.0  # a bound for an event that comes within milliseconds, not a measured time


def test_a_failed_pass_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> int:
        calls = 0
        third = asyncio.Event()

        async def work() -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                third.set()
            if calls == 1:
                raise ConnectionError("the database is down")

        loop = Periodic(work, every=0.001, name="test_pass").start()
        await asyncio.wait_for(third.wait(), WAIT)
        await loop.stop()
        return calls

    with caplog.at_level(logging.ERROR, logger="depot.background"):
        assert asyncio.run(main()) >= 3
    failures = [r for r in caplog.records if r.getMessage() == "test_pass_failed"]
    assert len(failures) == 1, [r.getMessage() for r in caplog.records]
    assert failures[0].exc_info is not None, "the failure is logged with its traceback"


def test_stop_cancels_the_pass_under_way_and_waits_for_it() -> None:
    async def main() -> None:
        started, cancelled = asyncio.Event(), asyncio.Event()

        async def work() -> None:
            started.set()
            try:
                await asyncio.Event().wait()  # a pass that would never end on its own
            except asyncio.CancelledError:
                cancelled.set()
                raise

        loop = Periodic(work, every=3600, name="test_pass").start()
        await asyncio.wait_for(started.wait(), WAIT)
        assert loop.running
        await loop.stop()
        assert cancelled.is_set(), "stop returns once the pass has ended"
        assert not loop.running
        await loop.stop()  # a second stop is harmless

    asyncio.run(main())


def test_an_interval_of_zero_never_starts_and_wait_first_waits() -> None:
    async def main() -> None:
        calls = 0

        async def work() -> None:
            nonlocal calls
            calls += 1

        off = Periodic(work, every=0, name="test_pass").start()
        later = Periodic(work, every=3600, name="test_pass", wait_first=True).start()
        for _ in range(10):
            await asyncio.sleep(0)
        assert not off.running
        assert later.running
        assert calls == 0, "neither ran a pass: one is off, the other waits an hour first"
        await later.stop()

    asyncio.run(main())


def test_one_replica_at_a_time_holds_the_lock(database: SessionDatabase) -> None:
    async def main() -> None:
        first, second = Database(database.url, pool_size=2), Database(database.url, pool_size=2)
        await first.open()
        await second.open()
        try:
            async with one_replica_at_a_time(first, "test.background") as held:
                assert held
                async with one_replica_at_a_time(second, "test.background") as other:
                    assert not other, "the other replica skips its turn"
                async with one_replica_at_a_time(second, "test.another") as unrelated:
                    assert unrelated, "another name is another lock"
            async with one_replica_at_a_time(second, "test.background") as after:
                assert after, "released when the first block ended"
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())


def test_until_idle_drains_at_once_and_wake_ends_the_wait() -> None:
    async def main() -> None:
        queued = 3
        drained, taken_late = asyncio.Event(), asyncio.Event()

        async def take_one() -> bool:
            nonlocal queued
            if queued == 0:
                drained.set()
                return False
            queued -= 1
            if drained.is_set():
                taken_late.set()
            return True

        loop = Periodic(take_one, every=3600, name="test_pass", until_idle=True).start()
        await asyncio.wait_for(drained.wait(), WAIT)  # three passes in a row, not an hour apart
        queued = 1
        loop.wake()  # within the hour's wait: the queued item is taken now
        await asyncio.wait_for(taken_late.wait(), WAIT)
        await loop.stop()

    asyncio.run(main())


def test_a_pass_makes_no_span_and_work_it_finds_is_a_trace_of_its_own() -> None:
    from opentelemetry import context

    from services.common.trace_context import linked_span

    async def main() -> tuple[bool, bool]:
        seen: list[bool] = []
        done = asyncio.Event()

        async def work() -> None:
            seen.append(bool(context.get_value(context._SUPPRESS_INSTRUMENTATION_KEY)))
            with linked_span("test.work", traceparent=None, attributes={}):
                seen.append(bool(context.get_value(context._SUPPRESS_INSTRUMENTATION_KEY)))
            done.set()

        loop = Periodic(work, every=3600, name="test_pass").start()
        await asyncio.wait_for(done.wait(), WAIT)
        await loop.stop()
        return seen[0], seen[1]

    assert asyncio.run(main()) == (True, False)
