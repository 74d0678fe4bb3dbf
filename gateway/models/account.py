"""Bodies of the account routes (gateway/routes/account.py): erasures and what an erasure removes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from depot.exports.v1 import erasure_pb2 as pb
from gateway.models.common import Out, optional_time, rfc3339

STATES: dict[int, str] = {
    pb.ERASURE_STATE_QUEUED: "queued",
    pb.ERASURE_STATE_PROCESSING: "processing",
    pb.ERASURE_STATE_COMPLETED: "completed",
}


class ErasureStepOut(Out):
    service: Literal["prompts", "files", "exports"]
    deleted_rows: int = Field(
        description="Rows deleted so far (rows that went with them by cascade not counted)."
    )
    done: bool
    completed_at: str | None

    @staticmethod
    def fields(message: pb.ErasureStep) -> dict[str, Any]:
        return {
            "service": message.service,
            "deleted_rows": message.deleted_rows,
            "done": message.done,
            "completed_at": optional_time(message, "complete_time"),
        }


class ErasureOut(Out):
    id: str = Field(description="The only way to find the erasure once it has completed: it names nobody.")
    status: Literal["queued", "processing", "completed"]
    steps: list[ErasureStepOut]
    requested_by_admin: bool
    attempts: int = Field(description="Workers that took it up; more than 1: it resumed after a failure.")
    last_error: str | None = Field(description="The reason code of the last failed attempt.")
    created_at: str
    completed_at: str | None

    @staticmethod
    def fields(message: pb.Erasure) -> dict[str, Any]:
        return {
            "id": message.id,
            "status": STATES[message.state],
            "steps": [ErasureStepOut.fields(s) for s in message.steps],
            "requested_by_admin": message.requested_by_admin,
            "attempts": message.attempts,
            "last_error": message.last_error or None,
            "created_at": rfc3339(message.create_time),
            "completed_at": optional_time(message, "complete_time"),
        }


class AccountOut(BaseModel):
    user_id: str
    counts: dict[str, int] = Field(
        description="What an erasure would remove: prompts, feedback, security_scans, chats, files, "
        "artifacts, file_bytes, exports, share_links."
    )
