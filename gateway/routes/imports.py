"""REST routes of restores: POST /imports takes a takeout zip (or one prompt's json export) as the
raw body, streamed to the exports service as it arrives; GET /imports/{id} follows the job."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from depot.exports.v1 import imports_pb2 as pb
from depot.exports.v1 import imports_pb2_grpc
from gateway.auth import bearer_token
from gateway.models import imports as m
from gateway.models.common import ErrorOut
from gateway.responses import Json
from gateway.routes.shared import ERRORS, upstream
from gateway.upload_stream import header_then_chunks

router = APIRouter(prefix="/api/v1", tags=["imports"])
# An upload's deadline: a few GiB at a modest link's speed.
TRANSFER_TIMEOUT_SECONDS = 3600.0
BODY = {
    "content": {
        "application/zip": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
    }
}


def _stub(request: Request) -> imports_pb2_grpc.ImportsServiceStub:
    return upstream(request).stub(imports_pb2_grpc.ImportsServiceStub)


def _chunk(data: bytes) -> pb.CreateImportRequest:
    return pb.CreateImportRequest(chunk=data)


@router.post(
    "/imports",
    status_code=202,
    response_model=m.ImportOut,
    responses={**ERRORS, 413: {"model": ErrorOut, "description": "Over DEPOT_IMPORT_MAX_BYTES"}},
    openapi_extra={"requestBody": {"required": True, **BODY}},
)
async def create_import(request: Request, token: str = Depends(bearer_token)) -> Response:
    """Stores the body (a takeout zip, or a prompt session's json export) and queues its restore into
    the caller's account (202; follow Location)."""
    header = pb.CreateImportHeader(content_type=request.headers.get("content-type", ""))
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and len(length) <= 18:
        header.expected_size_bytes = int(length)
    up = upstream(request)
    reply = await _stub(request).CreateImport(
        header_then_chunks(pb.CreateImportRequest(header=header), request.stream(), _chunk),
        metadata=up.metadata(token),
        timeout=TRANSFER_TIMEOUT_SECONDS,
    )
    job = m.ImportOut.from_proto(reply.job)
    return Json(job, status_code=202, headers={"Location": m.import_path(job.id)})


@router.get("/imports/{import_id}", response_model=m.ImportOut, responses=ERRORS)
async def get_import(import_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Where an import stands: status, counts, skipped items and errors by entry."""
    up = upstream(request)
    reply = await up.call(_stub(request).GetImport, pb.GetImportRequest(id=import_id), token)
    return Json(m.ImportOut.from_proto(reply.job))
