"""What one rendering is given and what it produces, shared by the service and the render workers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.exports.reports import RenderStats
from services.exports.rules import ExportRequest


@dataclass(frozen=True)
class Resolved:
    """A source looked up for the caller: its current revision, and whatever small payload came with it."""

    revision: str
    read_time: datetime
    payload: Any = None  # e.g. the prompt message, rendered as it was read


@dataclass(frozen=True)
class RenderJob:
    """Render `request` from `resolved` with the caller's token into the blob under `blob_key`."""

    export_id: uuid.UUID
    request: ExportRequest
    resolved: Resolved
    token: str
    blob_key: str


@dataclass(frozen=True)
class Rendering:
    """The stored bytes of a finished job, and what the receipt says about them."""

    size: int
    sha256: str
    seconds: float
    stats: RenderStats = field(default_factory=RenderStats)


def blob_key(export_id: uuid.UUID) -> str:
    """Where the bytes of an export are stored: one key per export, never reused."""
    return f"exports/{export_id}"
