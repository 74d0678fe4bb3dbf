"""The planner: turns each due window of each schedule into an ordinary export job.

Every exports process runs it every `DEPOT_SCHEDULE_PLAN_INTERVAL_SECONDS`. A pass locks the due
schedules with FOR UPDATE SKIP LOCKED, so replicas share them out and never decide about the same
schedule at once; the partial unique index on (schedule_id, window_start) of live runs makes a
second live run of one window impossible whatever happens.

Per schedule, windows are run in order, one at a time:
- the pending window's run has completed: the schedule is free to plan the next window;
- it is queued or processing: look again next pass;
- it failed (after the job's own retries) or vanished: after `DEPOT_SCHEDULE_RETRY_SECONDS`, the same
  window gets a new run, so a failure never skips a window;
- no pending window: the next one, [cursor, next fire), is planned once its end is `lag` in the past.

The safety lag: a row's change time is the start of the transaction that wrote it (PostgreSQL's
now()), and that transaction may commit later. A window is read only `DEPOT_SCHEDULE_LAG_SECONDS`
after it ends, so every write that started inside it and committed within the lag is in it. The lag
must outlast the longest write transaction; Depot's writes are single RPCs under a 30 s deadline,
and the default lag is 300 s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.common.trace_context import linked_span
from services.exports.jobs.policy import stored_request
from services.exports.schedules.cadence import window_end
from services.exports.schedules.repository import SchedulesRepository, Units
from services.exports.schedules.rules import run_request

log = logging.getLogger("depot.exports")

BATCH = 100


@dataclass(frozen=True)
class PlannerSettings:
    lag_seconds: float
    retry_seconds: float


class Planner:
    """One pass over the due schedules (`run_once`); services/common/background.Periodic repeats it."""

    def __init__(self, *, units: Units, settings: PlannerSettings) -> None:
        self._units = units
        self._lag = timedelta(seconds=settings.lag_seconds)
        self._retry = timedelta(seconds=settings.retry_seconds)

    async def run_once(self) -> int:
        """Plans what is due; returns how many runs were queued."""
        queued = 0
        async with self._units() as repo:
            now = await repo.now()
            due = await repo.claim_due(limit=BATCH)
            if not due:  # an idle look, no trace (Periodic); planning what is due is one
                return 0
            with linked_span(
                "export.schedule_plan", traceparent=None, attributes={"depot.schedules": len(due)}
            ):
                for schedule in due:
                    try:  # one schedule that cannot be planned holds up none of the others
                        async with repo.savepoint():
                            queued += await self._plan(repo, schedule, now)
                    except Exception:
                        log.error(
                            "schedule_plan_failed", exc_info=True, extra={"schedule_id": str(schedule.id)}
                        )
        return queued

    async def _plan(self, repo: SchedulesRepository, schedule: Any, now: datetime) -> int:
        if schedule.pending_window_start is not None:
            waiting = await self._pending(repo, schedule, now)
            if waiting is not None:
                return waiting
        start = schedule.next_window_start
        end = window_end(schedule.cron, window_start=start, created_at=schedule.created_at)
        if end + self._lag > now:  # nothing pending any more; look again when the window is due
            await repo.advance(
                schedule_id=schedule.id,
                pending_window_start=None,
                pending_window_end=None,
                due_at=end + self._lag,
            )
            return 0
        queued = await self._queue(repo, schedule, start, end)
        await repo.advance(
            schedule_id=schedule.id,
            next_window_start=end,
            pending_window_start=start,
            pending_window_end=end,
            due_at=now,
        )
        return queued

    async def _pending(self, repo: SchedulesRepository, schedule: Any, now: datetime) -> int | None:
        """What becomes of the pending window: None once its run completed (plan the next one),
        else the number of runs queued for it now (0 while it runs or waits for its retry)."""
        start, end = schedule.pending_window_start, schedule.pending_window_end
        runs = await repo.window_runs(schedule_id=schedule.id, window_start=start)
        if any(run.status == "completed" for run in runs):
            log.info(
                "schedule_window_done", extra={"schedule_id": str(schedule.id), "window_start": str(start)}
            )
            return None
        if any(run.status in ("queued", "processing") for run in runs):
            await repo.advance(schedule_id=schedule.id, due_at=now)
            return 0
        retry_at = runs[0].updated_at + self._retry if runs else now
        if retry_at > now:
            await repo.advance(schedule_id=schedule.id, due_at=retry_at)
            return 0
        log.info(
            "schedule_window_retried", extra={"schedule_id": str(schedule.id), "window_start": str(start)}
        )
        queued = await self._queue(repo, schedule, start, end)
        await repo.advance(schedule_id=schedule.id, due_at=now)
        return queued

    async def _queue(self, repo: SchedulesRepository, schedule: Any, start: datetime, end: datetime) -> int:
        base = stored_request(source=schedule.source, fmt=schedule.format, options=schedule.options)
        request = run_request(request=base, mode=schedule.mode, window_start=start, window_end=end)
        row = await repo.insert_run(schedule=schedule, request=request, window_start=start, window_end=end)
        if row is None:
            return 0
        log.info(
            "schedule_run_queued",
            extra={
                "schedule_id": str(schedule.id),
                "export_id": str(row.id),
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
            },
        )
        return 1
