"""The imports domain's REST bodies: an import job as GET /imports/{id} answers it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from depot.exports.v1 import imports_pb2 as pb
from gateway.models.common import Out, rfc3339

STATES = {
    pb.IMPORT_STATE_QUEUED: "queued",
    pb.IMPORT_STATE_PROCESSING: "processing",
    pb.IMPORT_STATE_COMPLETED: "completed",
    pb.IMPORT_STATE_FAILED: "failed",
}


class ImportCountsOut(BaseModel):
    prompts: int
    labels: int
    feedback: int
    security_scans: int
    files: int
    artifacts: int


class ImportErrorOut(BaseModel):
    path: str = Field(description='The entry of the archive ("" for the upload as a whole).')
    message: str


class ImportOut(Out):
    id: str
    status: Literal["queued", "processing", "completed", "failed"]
    content_type: str
    size_bytes: int
    counts: ImportCountsOut = Field(description="What was restored so far.")
    skipped: int = Field(
        description="Items already present (same request_id, same chat and filename…), left alone."
    )
    errors: list[ImportErrorOut]
    created_at: str
    updated_at: str

    @staticmethod
    def fields(message: pb.Import) -> dict[str, Any]:
        counts = message.counts
        return {
            "id": message.id,
            "status": STATES[message.state],
            "content_type": message.content_type,
            "size_bytes": message.size_bytes,
            "counts": {
                "prompts": counts.prompts,
                "labels": counts.labels,
                "feedback": counts.feedback,
                "security_scans": counts.security_scans,
                "files": counts.files,
                "artifacts": counts.artifacts,
            },
            "skipped": message.skipped,
            "errors": [{"path": e.path, "message": e.message} for e in message.errors],
            "created_at": rfc3339(message.create_time),
            "updated_at": rfc3339(message.update_time),
        }


def import_path(import_id: str) -> str:
    return f"/api/v1/imports/{import_id}"
