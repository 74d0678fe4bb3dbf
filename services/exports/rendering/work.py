"""What one rendering is given and what it produces, shared by the service, the job worker and the
render threads."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.exports.rendering.renderers import RENDERER_VERSION
from services.exports.rendering.reports import RenderStats
from services.exports.rules import ExportRequest


@dataclass(frozen=True)
class Acting:
    """For whom the sources are read: the user an export belongs to, and whether they asked as an
    admin. The exports service reads as them with service tokens; no bearer token is kept."""

    user_id: str
    admin: bool


@dataclass(frozen=True)
class Resolved:
    """A source looked up for the caller: its current revision, and whatever small payload came with it."""

    revision: str
    read_time: datetime
    payload: Any = None  # e.g. the prompt message, rendered as it was read
    rows: int | None = None  # how many rows the source holds, when the lookup tells (artifacts)
    # Whose data it is ("" for datasets of every user): the caller's, or another's in an admin's export.
    data_owner: str = ""


@dataclass(frozen=True)
class RenderJob:
    """Render `request` from `resolved`, reading as `acting`, into the blob under `blob_key`."""

    export_id: uuid.UUID
    request: ExportRequest
    resolved: Resolved
    acting: Acting
    blob_key: str
    # Filled by the render thread as rows go by, read by the job's heartbeat (progress).
    progress: RenderStats = field(default_factory=RenderStats)
    # Set when the job's worker lost its lease: the render thread stops at the next chunk.
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Rendering:
    """The stored bytes of a finished job, and what the receipt says about them."""

    size: int
    sha256: str
    seconds: float
    stats: RenderStats = field(default_factory=RenderStats)
    # size and sha256 are the content's; what the store holds may be encoded (gzip for text).
    encoding: str | None = None
    stored_bytes: int | None = None


def blob_key(export_id: uuid.UUID, attempt: int = 1) -> str:
    """Where the bytes of an export are stored: one key per export and attempt, never reused, so
    a worker that lost its lease can never overwrite the bytes of the one that took the job over."""
    return f"exports/{export_id}" if attempt <= 1 else f"exports/{export_id}.{attempt}"


def receipt(request: ExportRequest, resolved: Resolved, rendering: Rendering) -> dict[str, Any]:
    """What the export's receipt records about a finished rendering."""
    return {
        "sha256": rendering.sha256,
        "size_bytes": rendering.size,
        "row_count": rendering.stats.row_count,
        "source_revision": resolved.revision,
        "snapshot_time": (rendering.stats.snapshot_time or resolved.read_time).isoformat(),
        "renderer_version": RENDERER_VERSION,
        "csv_mode": request.csv_mode,
        "data_owner": resolved.data_owner,
    }


def completion(job: RenderJob, rendering: Rendering) -> dict[str, Any]:
    """What the completed export row records of its rendering (ExportsRepository.complete)."""
    return {
        "blob_key": job.blob_key,
        "size": rendering.size,
        "sha256": rendering.sha256,
        "receipt": receipt(job.request, job.resolved, rendering),
        "content_encoding": rendering.encoding,
        "stored_bytes": rendering.stored_bytes,
    }
