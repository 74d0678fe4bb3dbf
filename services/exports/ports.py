"""The ports the exports use cases depend on; server.py plugs the adapters in."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from services.exports.rendering.work import Acting, Rendering, RenderJob, Resolved
from services.exports.repository import ExportsRepository
from services.exports.rules import ExportRequest

UnitOfWork = Callable[[], AbstractAsyncContextManager[ExportsRepository]]


class Caller(Protocol):
    """Who asks: the verified principal. Sources are read for them with service tokens (rendering/sources.py)."""

    @property
    def user_id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


class SourcePort(Protocol):
    async def resolve(self, request: ExportRequest, *, acting: Acting, timeout: float) -> Resolved: ...


class RenderPort(Protocol):
    async def render(self, job: RenderJob) -> Rendering: ...


class EndedPort(Protocol):
    async def wait_ended(self, export_id: uuid.UUID, timeout: float) -> None:
        """Returns when the export may have ended (completed or failed), or after `timeout` seconds."""
        ...


class ExportReader(Protocol):
    """One of the owner's exports, or NotFound (the exports service)."""

    async def get_export(self, *, owner: str, export_id: str) -> Any: ...
