"""The use cases of the schedules API: create, read, list, delete a schedule, list its runs."""

from __future__ import annotations

from typing import Any

from services.common.errors import NotFound, ResourceExhausted
from services.common.ids import parse_id
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.exports.ports import Caller
from services.exports.schedules.cadence import EPOCH
from services.exports.schedules.credentials import CredentialBox
from services.exports.schedules.destinations import check_endpoint
from services.exports.schedules.repository import Units
from services.exports.schedules.rules import schedule_spec
from services.exports.schedules.settings import ScheduleSettings


class SchedulesService:
    """Schedules of the caller; another user's is NOT_FOUND."""

    def __init__(self, *, units: Units, box: CredentialBox, settings: ScheduleSettings) -> None:
        self._units = units
        self._box = box
        self._settings = settings

    async def create(
        self,
        *,
        caller: Caller,
        source: str,
        fmt: str,
        options: dict[str, Any],
        every: str,
        mode: str,
        destination: dict[str, str] | None,
    ) -> Any:
        """A new schedule; its first window runs from the epoch (an incremental schedule's first run
        carries every earlier row) to the cadence's first fire."""
        async with self._units() as repo:
            now = await repo.now()
        spec = schedule_spec(
            source=source,
            fmt=fmt,
            options=options,
            every=every,
            mode=mode,
            destination=destination,
            is_admin=caller.is_admin,
            user_id=caller.user_id,
            min_interval_seconds=self._settings.min_interval_seconds,
            now=now,
        )
        await check_endpoint(
            spec.destination.get("endpoint_url", ""), allow_private=self._settings.allow_private_endpoints
        )
        async with self._units() as repo:
            if await repo.count(owner=caller.user_id) >= self._settings.max_per_user:
                raise ResourceExhausted(
                    f"at most {self._settings.max_per_user} schedules per user; delete one first",
                    reason="TOO_MANY_SCHEDULES",
                )
            return await repo.insert(
                owner=caller.user_id,
                owner_is_admin=caller.is_admin,
                source=str(spec.request.source),
                format=spec.request.format,
                options=spec.request.options,
                every=spec.every,
                cron=spec.cron,
                mode=spec.mode,
                destination=spec.destination,
                credentials=None if spec.secrets is None else self._box.seal(spec.secrets),
                next_window_start=EPOCH,
                due_at=now,
            )

    async def get(self, *, owner: str, schedule_id: str) -> Any:
        async with self._units() as repo:
            row = await repo.get(schedule_id=parse_id(schedule_id, "schedule"), owner=owner)
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id!r}")
        return row

    async def list(self, *, owner: str, size: int, token: str) -> Page:
        limit = page_size(size)
        async with self._units() as repo:
            rows = await repo.list(owner=owner, limit=limit + 1, after=decode_cursor(token))
        return paged(rows, limit)

    async def delete(self, *, owner: str, schedule_id: str) -> None:
        async with self._units() as repo:
            deleted = await repo.delete(schedule_id=parse_id(schedule_id, "schedule"), owner=owner)
        if not deleted:
            raise NotFound(f"no schedule with id {schedule_id!r}")

    async def runs(self, *, owner: str, schedule_id: str, size: int, token: str) -> Page:
        limit = page_size(size)
        parsed = parse_id(schedule_id, "schedule")
        async with self._units() as repo:
            if await repo.get(schedule_id=parsed, owner=owner) is None:
                raise NotFound(f"no schedule with id {schedule_id!r}")
            rows = await repo.runs(
                schedule_id=parsed, owner=owner, limit=limit + 1, after=decode_cursor(token)
            )
        return paged(rows, limit)
