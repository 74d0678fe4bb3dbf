"""The erasure worker of one exports process: takes unfinished erasures and runs their steps.

Any replica takes an erasure that is queued or whose worker's lease ran out (a crashed process),
so a killed erasure is finished by whichever replica comes next. Each step repeats its service's
EraseUser until a batch finds nothing, recording the rows deleted and extending the lease after
every batch; a step recorded as done is not run again, and one interrupted mid-way simply goes on
(deleting is idempotent). A failed attempt (a service down) records its reason, a code and never
data, and is taken again after `retry_seconds`. Once every step is done a final round asks every
service again until none finds anything, so rows written to an earlier step's tables while a later
step ran go too. Logs name the erasure, never the user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from services.common.background import Periodic
from services.common.trace_context import linked_span
from services.exports.erasure.repository import ErasuresRepository

log = logging.getLogger("depot.exports.erasure")


class Part(Protocol):
    """One service's part of an erasure."""

    name: str

    async def erase_batch(self, user_id: str) -> int:
        """Deletes a batch of the user's rows; 0 when nothing was left."""
        ...

    async def count(self, user_id: str) -> dict[str, int]:
        """The user's data, by kind."""
        ...


def worker_name() -> str:
    """host:pid:random, as the export jobs' workers are named (no user's data in it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ErasureWorker:
    """Runs unfinished erasures one at a time, woken by a new one or every `poll_seconds`."""

    def __init__(
        self,
        *,
        unit_of_work: Callable[[], AbstractAsyncContextManager[ErasuresRepository]],
        parts: Sequence[Part],
        lease_seconds: float,
        poll_seconds: float,
        retry_seconds: float,
    ) -> None:
        self._uow = unit_of_work
        self._parts = parts
        self._lease = lease_seconds
        self._retry = retry_seconds
        self._loop = Periodic(self.run_once, every=poll_seconds, name="erasure_pass", until_idle=True)
        self._current: Any = None  # the id of the erasure this worker is running, if any
        self.name = worker_name()

    def start(self) -> ErasureWorker:
        self._loop.start()
        return self

    def wake(self) -> None:
        """A new erasure was queued here: look now rather than at the next poll."""
        self._loop.wake()

    async def stop(self) -> None:
        """Stops between two statements and hands the erasure it was running back at once, so a
        rolling restart does not wait for its lease to run out (a crash does)."""
        await self._loop.stop()
        running, self._current = self._current, None
        if running is not None:
            with contextlib.suppress(Exception):  # the lease runs out anyway
                async with self._uow() as repo:
                    await repo.failed(erasure_id=running, worker=self.name, error="SHUTDOWN", retry_seconds=0)

    async def run_once(self) -> bool:
        """Takes one unfinished erasure and runs it; False when there was none to take."""
        async with self._uow() as repo:
            erasure = await repo.take(worker=self.name, lease_seconds=self._lease)
        if erasure is None:
            return False
        self._current = erasure.id
        try:
            with linked_span(
                "export.erasure", traceparent=None, attributes={"depot.erasure_id": str(erasure.id)}
            ):
                await self._run(erasure)
        except Exception as exc:
            reason = str(getattr(exc, "reason", "") or type(exc).__name__)
            log.warning("erasure_attempt_failed", extra={"erasure_id": str(erasure.id), "reason": reason})
            async with self._uow() as repo:
                await repo.failed(
                    erasure_id=erasure.id, worker=self.name, error=reason, retry_seconds=self._retry
                )
        self._current = None
        return True

    async def _run(self, erasure: Any) -> None:
        steps: dict[str, Any] = dict(erasure.steps or {})
        for part in self._parts:
            step = steps.setdefault(part.name, {"deleted_rows": 0, "completed_at": None})
            while step["completed_at"] is None:
                deleted = await part.erase_batch(erasure.subject)
                step["deleted_rows"] += deleted
                if deleted == 0:
                    step["completed_at"] = datetime.now(UTC).isoformat()
                async with self._uow() as repo:
                    held = await repo.progress(
                        erasure_id=erasure.id, worker=self.name, steps=steps, lease_seconds=self._lease
                    )
                if not held:  # another replica took it over: it goes on from what was recorded
                    log.warning("erasure_lease_lost", extra={"erasure_id": str(erasure.id)})
                    return
        if not await self._final_round(erasure, steps):
            return
        async with self._uow() as repo:
            completed = await repo.complete(erasure_id=erasure.id, worker=self.name, steps=steps)
        if completed:
            log.info(
                "erasure_completed",
                extra={
                    "erasure_id": str(erasure.id),
                    **{f"{k}_rows": v["deleted_rows"] for k, v in steps.items()},
                },
            )

    async def _final_round(self, erasure: Any, steps: dict[str, Any]) -> bool:
        """Asks every service once more until none finds anything: rows written to an earlier
        step's tables while a later step ran (a job that finished meanwhile) go too. False when
        the lease was lost."""
        while True:
            found = 0
            for part in self._parts:
                deleted = await part.erase_batch(erasure.subject)
                steps[part.name]["deleted_rows"] += deleted
                found += deleted
            if not found:
                return True
            async with self._uow() as repo:
                held = await repo.progress(
                    erasure_id=erasure.id, worker=self.name, steps=steps, lease_seconds=self._lease
                )
            if not held:
                return False
