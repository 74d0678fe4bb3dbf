"""The rules of ErasureService: who may erase whom, who may see an erasure, what a preview counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from services.common.auth import Principal
from services.common.erasure import check_subject
from services.common.errors import NotFound, PermissionDenied
from services.common.ids import parse_id
from services.exports.erasure.repository import ErasuresRepository
from services.exports.erasure.worker import ErasureWorker, Part


class ErasureUseCases:
    """Start, read and preview erasures; the worker does the erasing."""

    def __init__(
        self,
        *,
        unit_of_work: Callable[[], AbstractAsyncContextManager[ErasuresRepository]],
        parts: Sequence[Part],
        worker: ErasureWorker,
    ) -> None:
        self._uow = unit_of_work
        self._parts = parts
        self._worker = worker

    @property
    def steps(self) -> list[str]:
        """The steps' names, in the order they run."""
        return [part.name for part in self._parts]

    async def start(self, *, principal: Principal, user_id: str) -> Any:
        """A queued erasure of the user (the caller's own unless an admin names another), or the
        unfinished one of that user."""
        subject = _subject(principal, user_id)
        async with self._uow() as repo:
            erasure = await repo.start(subject=subject, by_admin=subject != principal.user_id)
        self._worker.wake()
        return erasure

    async def get(self, *, principal: Principal, erasure_id: str) -> Any:
        """The erasure; while it runs only its user or an admin sees it, once done anyone with the id."""
        async with self._uow() as repo:
            erasure = await repo.get(erasure_id=parse_id(erasure_id, "erasure", field="id"))
        running_for_another = erasure is not None and erasure.subject not in (None, principal.user_id)
        if erasure is None or (running_for_another and not principal.is_admin):
            raise NotFound(f"no erasure {erasure_id}", field="id")
        return erasure

    async def preview(self, *, principal: Principal, user_id: str) -> dict[str, int]:
        """What erasing the user would remove, by kind, across every service."""
        subject = _subject(principal, user_id)
        counts: dict[str, int] = {}
        for part in self._parts:
            counts.update(await part.count(subject))
        return counts


def _subject(principal: Principal, user_id: str) -> str:
    """The user an erasure is about: the caller, or anyone for an admin."""
    subject = check_subject(user_id or principal.user_id)
    if subject != principal.user_id and not principal.is_admin:
        raise PermissionDenied("only an admin may erase or count another user's data")
    return subject
