"""When a schedule fires, and the windows its runs cover. No I/O.

Every cadence is a five-field cron expression evaluated in UTC by cronsim (`hourly`, `daily` and
`weekly` are shorthands for `0 * * * *`, `0 0 * * *` and `0 0 * * 0`). Window k of a schedule is
[fire k-1, fire k): windows follow each other with no gap and no overlap. The first window starts
where the schedule's cursor starts (the epoch for a new schedule: an incremental schedule's first run
carries the whole history) and ends at the first fire after the schedule was created.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

from services.common.errors import InvalidArgument, echo
from services.common.limits import MAX_EVERY_CHARS

SHORTHANDS = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How far ahead a cron must fire at all (Feb 29 on a Monday fires within 28 years), and how many
# consecutive fires are compared to find its shortest interval.
HORIZON = timedelta(days=366 * 30)
GAPS_CHECKED = 500


def cron_of(every: str, *, min_interval_seconds: float, now: datetime) -> str:
    """The cron expression of `every`; InvalidArgument when it is malformed, never fires, or fires
    more often than every `min_interval_seconds`."""
    every = every.strip()
    cron = SHORTHANDS.get(every.lower(), every)
    if not cron or len(cron) > MAX_EVERY_CHARS:
        raise InvalidArgument(
            "every must be hourly, daily, weekly or a five-field cron expression", field="every"
        )
    try:
        fires = CronSim(cron, now)
        first = next(fires)
    except (CronSimError, StopIteration) as exc:  # StopIteration: a date that never comes
        raise InvalidArgument(
            f"every {echo(every)} is not a cron expression that fires ({exc or 'never'}); use hourly, "
            "daily, weekly or five fields: minute hour day-of-month month day-of-week",
            field="every",
        ) from None
    if first - now > HORIZON:
        raise InvalidArgument(f"every {echo(every)} does not fire within 30 years", field="every")
    shortest = min_gap(cron, first)
    if shortest.total_seconds() < min_interval_seconds:
        raise InvalidArgument(
            f"every {echo(every)} fires {int(shortest.total_seconds())} s apart; schedules fire at most "
            f"every {int(min_interval_seconds)} s",
            field="every",
        )
    return cron


def min_gap(cron: str, start: datetime) -> timedelta:
    """The shortest time between two consecutive fires among the next few hundred."""
    fires = list(itertools.islice(CronSim(cron, start), GAPS_CHECKED))
    gaps = [b - a for a, b in itertools.pairwise([start, *fires])]
    return min(gaps) if gaps else HORIZON


def next_fire(cron: str, after: datetime) -> datetime:
    """The first fire strictly after `after`."""
    return next(CronSim(cron, after)).astimezone(UTC)


def window_end(cron: str, *, window_start: datetime, created_at: datetime) -> datetime:
    """Where the window that starts at `window_start` ends: the first fire after both it and the
    schedule's creation (so a new schedule's first window ends at its first fire)."""
    return next_fire(cron, max(window_start, created_at))
