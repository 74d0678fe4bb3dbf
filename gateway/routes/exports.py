"""REST routes of the exports domain: create or reuse, list, read, delete, download, share."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from depot.exports.v1 import exports_pb2 as pb
from gateway.auth import bearer_token
from gateway.content_coding import accepted_codings
from gateway.errors import ApiError
from gateway.models import exports as m
from gateway.models.common import ErrorOut
from gateway.relay_exports import ContentStub, if_none_match, relay
from gateway.responses import Json
from gateway.routes.shared import ERRORS, PageSize, PageToken, upstream
from services.common.limits import MAX_SOURCE_CHARS

router = APIRouter(prefix="/api/v1", tags=["exports"])
# The service bounds a wait (DEPOT_EXPORT_WAIT_MAX_SECONDS, at most 600); the gateway never asks for
# more, so its deadline stays finite. Seed routes follow a job in steps of FOLLOW_SECONDS.
WAIT_CEILING_SECONDS = 600.0
FOLLOW_SECONDS = 30.0
links = APIRouter(tags=["exports"])
EXPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorOut},
    412: {"model": ErrorOut},
    429: {"model": ErrorOut, "description": "Too many new renders; see Retry-After"},
}
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The bytes, streamed"},
    304: {"description": "The client's copy (If-None-Match) is current"},
    **EXPORT_ERRORS,
}


async def create(request: Request, token: str, *, source: str, fmt: str, options: dict[str, Any]) -> Any:
    """CreateExport with the render deadline."""
    gateway = upstream(request)
    message = m.create_request(source, fmt, options)
    return await gateway.call(gateway.exports.CreateExport, message, token, timeout=gateway.export_timeout)


async def download(request: Request, token: str | None, export_id: str) -> Response:
    """Streams an export's bytes through the gateway as they come from the exports service."""
    gateway = upstream(request)
    message = pb.ReadExportContentRequest(
        id=export_id, if_none_match=if_none_match(request), accept_encoding=accepted_codings(request)
    )
    call = gateway.stream(gateway.stub(ContentStub).ReadExportContent, message, token)
    return await relay(call, request)


@router.post(
    "/exports",
    status_code=201,
    response_model=m.ExportOut,
    responses={
        200: {"model": m.ExportOut, "description": "A stored export of the same source revision"},
        202: {
            "model": m.ExportOut,
            "description": "Queued (or already being rendered) by a job; Location is the export to poll",
        },
        **EXPORT_ERRORS,
    },
)
async def create_export(body: m.ExportIn, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Renders a source (201), returns the stored export that still matches its revision (200), or
    queues a job for a dataset or a large artifact (202, follow Location with `?wait=`)."""
    reply = await create(request, token, source=body.source, fmt=body.format, options=body.options)
    export = m.ExportOut.from_proto(reply.export)
    if reply.export.state in m.RUNNING:
        return Json(export, status_code=202, headers={"Location": m.export_path(export.id)})
    return Json(export, status_code=200 if reply.reused else 201)


async def until_ended(request: Request, token: str, export: pb.Export) -> pb.Export:
    """Follows a queued export to its end, within the export deadline, for routes that answer with
    a finished export (the seed routes): its failure is 412, running out of time 503."""
    gateway = upstream(request)
    deadline = time.monotonic() + gateway.export_timeout
    while export.state in m.RUNNING:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ApiError(503, "UNAVAILABLE", f"export {export.id} is still being rendered; retry shortly")
        export = await get(request, token, export.id, wait=min(left, FOLLOW_SECONDS))
    if export.state == pb.EXPORT_STATE_FAILED:
        raise ApiError(412, "FAILED_PRECONDITION", f"the export failed: {export.error_message}")
    return export


async def get(request: Request, token: str, export_id: str, *, wait: float | None) -> pb.Export:
    """GetExport, waiting up to `wait` seconds (the service cuts it to its bound) for the export to end."""
    gateway = upstream(request)
    message = pb.GetExportRequest(id=export_id)
    timeout = gateway.timeout
    if wait:
        seconds = min(wait, WAIT_CEILING_SECONDS)
        message.wait.FromTimedelta(timedelta(seconds=seconds))
        timeout += seconds
    reply = await gateway.call(gateway.exports.GetExport, message, token, timeout=timeout)
    return reply.export


@router.get("/exports", response_model=m.ExportList, responses=EXPORT_ERRORS)
async def list_exports(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
    source: str = Query(default="", max_length=MAX_SOURCE_CHARS, description="Only exports of this source"),
    status: m.State | None = None,
) -> Response:
    """The caller's exports, newest first."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.exports.ListExports,
        pb.ListExportsRequest(
            page_size=page_size,
            page_token=page_token,
            source=source,
            state=m.STATES.numbers.get(status or "", pb.EXPORT_STATE_UNSPECIFIED),
        ),
        token,
    )
    return Json(m.ExportList.from_proto(reply))


@router.get("/exports/{export_id}", response_model=m.ExportOut, responses=EXPORT_ERRORS)
async def get_export(
    export_id: str,
    request: Request,
    token: str = Depends(bearer_token),
    wait: float | None = Query(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Seconds to wait for a queued or processing export to end (at most 30 by default)",
    ),
) -> Response:
    """An export's status, progress (rows_rendered, attempts), metadata and receipt; with `wait`,
    as soon as it has ended or when the wait is over."""
    return Json(m.ExportOut.from_proto(await get(request, token, export_id, wait=wait)))


@router.delete("/exports/{export_id}", status_code=204, responses=EXPORT_ERRORS)
async def delete_export(export_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Deletes an export and its bytes."""
    gateway = upstream(request)
    await gateway.call(gateway.exports.DeleteExport, pb.DeleteExportRequest(id=export_id), token)
    return Response(status_code=204)


@router.get("/exports/{export_id}/content", response_class=Response, responses=DOWNLOAD)
async def export_content(export_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """The bytes, with Content-Type, Content-Length, ETag (sha256) and Content-Disposition."""
    return await download(request, token, export_id)


@router.post(
    "/exports/{export_id}/links", status_code=201, response_model=m.NewLinkOut, responses=EXPORT_ERRORS
)
async def create_link(
    export_id: str, request: Request, body: m.LinkIn | None = None, token: str = Depends(bearer_token)
) -> Response:
    """A link that downloads the export without a bearer token until it expires."""
    link = await share_link(request, token, export_id, (body or m.LinkIn()).expires_in)
    return Json(m.NewLinkOut.from_proto(link, link_url(request, link.token)), status_code=201)


async def share_link(request: Request, token: str, export_id: str, seconds: int) -> pb.ShareLink:
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.exports.CreateShareLink,
        pb.CreateShareLinkRequest(export_id=export_id, expires_in_seconds=seconds),
        token,
    )
    return reply.link


def link_url(request: Request, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/s/{token}"


@links.get("/s/{link_token}", response_class=Response, responses=DOWNLOAD)
async def shared_content(link_token: str, request: Request) -> Response:
    """The bytes behind a share link; no bearer token needed (the link is the credential)."""
    gateway = upstream(request)
    message = pb.ReadSharedContentRequest(
        token=link_token,
        if_none_match=if_none_match(request),
        accept_encoding=accepted_codings(request),
        allow_redirect=True,  # on the S3 store: a fresh presigned URL each time
    )
    call = gateway.stream(gateway.stub(ContentStub).ReadSharedContent, message, None)
    return await relay(call, request)
