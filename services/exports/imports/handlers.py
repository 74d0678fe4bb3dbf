"""The gRPC servicer of imports: proto in, one service call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from depot.exports.v1 import imports_pb2 as pb
from depot.exports.v1 import imports_pb2_grpc
from services.common.errors import InvalidArgument
from services.common.interceptors import current_principal
from services.common.timestamps import timestamp
from services.exports.imports.service import ImportsService

STATES = {
    "queued": pb.IMPORT_STATE_QUEUED,
    "processing": pb.IMPORT_STATE_PROCESSING,
    "completed": pb.IMPORT_STATE_COMPLETED,
    "failed": pb.IMPORT_STATE_FAILED,
}


class ImportsHandlers(imports_pb2_grpc.ImportsServiceServicer):
    def __init__(self, service: ImportsService) -> None:
        self._service = service

    async def CreateImport(
        self, request_iterator: AsyncIterator[pb.CreateImportRequest], context: grpc.aio.ServicerContext
    ) -> Any:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidArgument("an upload starts with its header", field="header")
        header = first.header
        row = await self._service.create_import(
            owner=current_principal().user_id,
            content_type=header.content_type,
            expected_size=header.expected_size_bytes if header.HasField("expected_size_bytes") else None,
            chunks=_chunks(request_iterator),
        )
        return pb.CreateImportResponse(job=import_message(row))

    async def GetImport(self, request: pb.GetImportRequest, context: grpc.aio.ServicerContext) -> Any:
        row = await self._service.get_import(owner=current_principal().user_id, import_id=request.id)
        return pb.GetImportResponse(job=import_message(row))


async def _chunks(messages: AsyncIterator[pb.CreateImportRequest]) -> AsyncIterator[bytes]:
    async for message in messages:
        if message.WhichOneof("part") != "chunk":
            raise InvalidArgument("only the first message of an upload is its header", field="header")
        yield message.chunk


def import_message(row: Any) -> pb.Import:
    counts = row.counts or {}
    return pb.Import(
        id=str(row.id),
        owner=row.owner,
        state=STATES[row.status],
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        counts=pb.ImportCounts(
            **{name: int(counts.get(name, 0)) for name in pb.ImportCounts.DESCRIPTOR.fields_by_name}
        ),
        skipped=row.skipped,
        errors=[
            pb.ImportError(path=e.get("path", ""), message=e.get("message", "")) for e in row.errors or []
        ],
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )
