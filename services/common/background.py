"""Background work of a service process: a pass repeated every interval, stopped cleanly, and the
advisory lock that lets one replica at a time run a pass that every replica schedules.

    sweeper = Periodic(sweep.run_once, every=60, name="exports_sweep").start()
    ...
    await sweeper.stop()  # at shutdown: cancels the running pass or the wait, waits for it to end

    worker = Periodic(take_one, every=2, name="erasure_pass", until_idle=True).start()
    worker.wake()  # work was queued here: look now rather than at the end of the wait

A pass makes no trace spans (services/common/trace_context.untraced): a background loop's look at its
queue, every few seconds in every process, would otherwise be a trace each saying nothing happened.
Work a pass finds opens a trace of its own (trace_context.linked_span), as an export job does.

    async with one_replica_at_a_time(database, "depot.exports.lifecycle") as held:
        if held:
            ...  # this replica's turn; the others skip it
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import text

from services.common.database import Database, Session
from services.common.trace_context import untraced

log = logging.getLogger("depot.background")


class Periodic:
    """Runs `work` now and then every `every` seconds after each pass ends (or first after one
    interval: `wait_first=True`), until `stop()`. A pass that raises is logged as `<name>_failed`
    and the next one runs as usual: an outage of the database or a store ends no loop. An interval
    of 0 or less never starts the loop (the setting that turns the work off).

    `until_idle`: `work` answers whether it found something, and while it does the next pass starts
    at once (a queue is drained, then polled). `wake()` ends the current wait early."""

    def __init__(
        self,
        work: Callable[[], Awaitable[object]],
        *,
        every: float,
        name: str,
        wait_first: bool = False,
        until_idle: bool = False,
    ) -> None:
        self._work = work
        self._every = every
        self._name = name
        self._wait_first = wait_first
        self._until_idle = until_idle
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> Periodic:
        """Starts the loop on the running event loop (once; again after a stop); returns self."""
        if self._every > 0 and self._task is None:
            self._task = asyncio.ensure_future(self._loop())
        return self

    def wake(self) -> None:
        """Starts the next pass now (or as soon as the one under way ends) rather than after the wait."""
        self._woken.set()

    async def stop(self) -> None:
        """Cancels the loop (the pass under way, or the wait) and returns once it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        if self._wait_first:
            await self._wait()
        while True:
            self._woken.clear()  # before looking, so work queued meanwhile ends the next wait
            try:
                with untraced():  # this task's context only: the pass's own traces are not affected
                    found = await self._work()
            except Exception:
                log.error(f"{self._name}_failed", exc_info=True)
                found = False
            if not (self._until_idle and found):
                await self._wait()

    async def _wait(self) -> None:
        # asyncio.timeout, not wait_for, wherever Depot waits with a limit: on Python 3.11 wait_for
        # loses a cancellation that arrives as the awaited completes, and a loop would run on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._every):
                await self._woken.wait()


@contextlib.asynccontextmanager
async def one_replica_at_a_time(database: Database, name: str) -> AsyncIterator[bool]:
    """Yields whether this process took the session-level advisory lock `name` (every replica uses
    the same name): held on one autocommit connection for the block and released with it, or with
    the connection should the process die. No transaction stays open meanwhile."""
    params = {"name": name}
    async with database.connection() as session:
        lock = text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))")
        held = bool((await session.execute(lock, params)).scalar())
        try:
            yield held
        finally:
            if held:
                await session.execute(text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"), params)


async def delete_in_batches(
    database: Database, delete: Callable[[Session], Awaitable[int]], *, batch: int
) -> int:
    """Runs `delete` (which removes at most `batch` rows and answers how many) in a transaction of
    its own, again until a pass removes fewer than `batch`, so a long sweep never holds one long
    transaction or its locks; returns how many rows went."""
    removed = 0
    while True:
        async with database.begin() as session:
            count = await delete(session)
        removed += count
        if count < batch:
            return removed
