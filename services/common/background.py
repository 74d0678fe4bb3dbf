"""Background work of a service process: a pass repeated every interval, stopped cleanly, and the
advisory lock that lets one replica at a time run a pass that every replica schedules.

    sweeper = Periodic(sweep.run_once, every=60, name="exports_sweep").start()
    ...
    await sweeper.stop()  # at shutdown: cancels the running pass or the wait, waits for it to end

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

from services.common.database import Database

log = logging.getLogger("depot.background")


class Periodic:
    """Runs `work` now and then every `every` seconds after each pass ends (or first after one
    interval: `wait_first=True`), until `stop()`. A pass that raises is logged as `<name>_failed`
    and the next one runs as usual: an outage of the database or a store ends no loop. An interval
    of 0 or less never starts the loop (the setting that turns the work off)."""

    def __init__(
        self,
        work: Callable[[], Awaitable[object]],
        *,
        every: float,
        name: str,
        wait_first: bool = False,
    ) -> None:
        self._work = work
        self._every = every
        self._name = name
        self._wait_first = wait_first
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> Periodic:
        """Starts the loop on the running event loop (once; again after a stop); returns self."""
        if self._every > 0 and self._task is None:
            self._task = asyncio.ensure_future(self._loop())
        return self

    async def stop(self) -> None:
        """Cancels the loop (the pass under way, or the wait) and returns once it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        if self._wait_first:
            await asyncio.sleep(self._every)
        while True:
            try:
                await self._work()
            except Exception:
                log.error(f"{self._name}_failed", exc_info=True)
            await asyncio.sleep(self._every)


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
