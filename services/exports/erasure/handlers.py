"""The ErasureService servicer: proto in, one use case, proto out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from depot.exports.v1 import erasure_pb2 as pb
from depot.exports.v1 import erasure_pb2_grpc
from services.common.interceptors import current_principal
from services.common.timestamps import timestamp
from services.exports.erasure.service import ErasureUseCases

STATES = {
    "queued": pb.ERASURE_STATE_QUEUED,
    "processing": pb.ERASURE_STATE_PROCESSING,
    "completed": pb.ERASURE_STATE_COMPLETED,
}


def erasure_message(row: Any, steps: list[str]) -> pb.Erasure:
    """An erasure as the API shows it: every step in order, done or not."""
    message = pb.Erasure(
        id=str(row.id),
        state=STATES[row.status],
        requested_by_admin=row.requested_by_admin,
        attempts=row.attempts,
        last_error=row.last_error or "",
    )
    message.create_time.CopyFrom(timestamp(row.created_at))
    if row.completed_at is not None:
        message.complete_time.CopyFrom(timestamp(row.completed_at))
    recorded = row.steps or {}
    for name in steps:
        step = recorded.get(name) or {}
        item = message.steps.add(service=name, deleted_rows=int(step.get("deleted_rows", 0)))
        if step.get("completed_at"):
            item.done = True
            item.complete_time.CopyFrom(timestamp(datetime.fromisoformat(step["completed_at"])))
    return message


class ErasureHandlers(erasure_pb2_grpc.ErasureServiceServicer):
    """Each RPC is one use case."""

    def __init__(self, erasures: ErasureUseCases) -> None:
        self._erasures = erasures

    async def StartErasure(self, request: pb.StartErasureRequest, context: grpc.aio.ServicerContext) -> Any:
        row = await self._erasures.start(principal=current_principal(), user_id=request.user_id)
        return pb.StartErasureResponse(erasure=erasure_message(row, self._erasures.steps))

    async def GetErasure(self, request: pb.GetErasureRequest, context: grpc.aio.ServicerContext) -> Any:
        row = await self._erasures.get(principal=current_principal(), erasure_id=request.id)
        return pb.GetErasureResponse(erasure=erasure_message(row, self._erasures.steps))

    async def PreviewErasure(
        self, request: pb.PreviewErasureRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        counts = await self._erasures.preview(principal=current_principal(), user_id=request.user_id)
        return pb.PreviewErasureResponse(counts=counts)
